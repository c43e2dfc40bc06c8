"""Score validation: does the score predict closed-won deals? Point-in-time, so the answer is honest.

The score an account had on day D is recomputed from what was known on D (usage windows ending D, paying
customers by deals won by D) and compared with whether it closed-won in the N days after D. Scoring today's
accounts and comparing with deals already won would flatter the score: the accounts that bought are busy
onboarding, and their usage "predicts" a win that already happened.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from pls_pipelines.assets.common import REVOPS_TEAM, SCORES_FRESHNESS, table_metadata
from pls_pipelines.assets.rollups import AccountFacts, account_features_as_of, latest_activity_date
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.accounts import won_between
from pls_pipelines.lib.scoring import score_model
from pls_pipelines.lib.scoring_config import POSITIVE, ScoringModel
from pls_pipelines.lib.validation import BacktestReport, backtest
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

SCORE_VALIDATION = "score_validation"
DEFAULT_HORIZON_DAYS = 60
OUTCOME = "outcome"


@dataclass(frozen=True)
class ValidationSample:
    """Accounts as scored on `as_of`, their component points, and whether each closed-won afterwards."""

    model: ScoringModel
    as_of: date
    horizon_days: int
    table: pd.DataFrame  # account_id, score, tier, is_pqa, <component points...>, outcome

    @property
    def signal_columns(self) -> list[str]:
        return [c.name for c in self.model.components]

    @property
    def positive_components(self) -> list[str]:
        return [c.name for c in self.model.components if c.direction == POSITIVE]

    def run_backtest(self, seed: int = 0) -> BacktestReport:
        return backtest(self.table, outcome=OUTCOME, tiers=[t.name for t in self.model.tiers],
                        pqa_threshold=self.model.pqa_threshold, signal_columns=self.signal_columns, seed=seed)


def default_as_of(wh: Warehouse, horizon_days: int) -> date:
    """The latest day whose following `horizon_days` are all observed: the newest activity minus the horizon."""
    return latest_activity_date(wh) - timedelta(days=horizon_days)


def validation_sample(
    wh: Warehouse, rules: RulesResource, model_name: str | None, as_of: date | None, horizon_days: int
) -> ValidationSample:
    """The accounts `model_name` (default: the first primary model) scored on `as_of` (default: as late as the
    horizon allows), with outcome = a deal closed-won in the `horizon_days` after."""
    config = rules.scoring()
    model = config.model(model_name or config.primary_models[0])
    as_of = as_of or default_as_of(wh, horizon_days)
    facts = AccountFacts.read(wh)
    features = account_features_as_of(wh, facts, rules.catalog(), rules.routing().segments, as_of)
    result = score_model(features, model)
    table = result.scores[["account_id", "score", "tier", "is_pqa"]].merge(result.points_table(), on="account_id")
    company = features.set_index("account_id")["crm_company_id"]
    won = won_between(facts.deals, as_of, as_of + timedelta(days=horizon_days))
    table[OUTCOME] = table["account_id"].map(company).isin(won)
    return ValidationSample(model, as_of, horizon_days, table)


class ScoreValidationConfig(dg.Config):
    horizon_days: int = Field(
        default=DEFAULT_HORIZON_DAYS, description="A score counts as right when the account closed-won within "
        "this many days after the day it was scored."
    )
    as_of: str | None = Field(
        default=None, description="Day the scores are taken from (YYYY-MM-DD); default: the newest activity "
        "minus horizon_days, so every outcome window is complete."
    )
    model: str | None = Field(default=None, description="Scoring model to validate; default: the first primary.")


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata("score_validation"),
    group_name="metrics",
    deps=["user_daily_activity", "account_map", "product_workspaces", "crm_companies", "crm_deals", "pqa_scores"],
    kinds={"python", "scikit-learn"},
    owners=[REVOPS_TEAM],
)
def score_validation(
    context: dg.AssetExecutionContext,
    config: ScoreValidationConfig,
    warehouse: WarehouseResource,
    rules: RulesResource,
) -> dg.MaterializeResult:
    """Data-sales fit, measured honestly: accounts are scored as of a past day with what was known then, and
    compared with who closed-won in the following 60 days (from CRM deals). Reports conversion and lift per
    tier, precision and recall of the PQA flag, ROC AUC with a bootstrap confidence interval, and each signal's
    AUC - and says plainly when the score shows no lift. Same numbers as `pls backtest`.
    """
    wh = warehouse.get_warehouse()
    as_of = date.fromisoformat(config.as_of) if config.as_of else None
    sample = validation_sample(wh, rules, config.model, as_of, config.horizon_days)
    report = sample.run_backtest()
    table = report_table(report, sample)
    wh.replace_table(SCORE_VALIDATION, table)
    context.log.info(f"{sample.model.name} as of {sample.as_of}, {config.horizon_days}-day horizon: {report.verdict}")
    return dg.MaterializeResult(
        metadata=table_metadata(
            table,
            verdict=dg.MetadataValue.md(f"**{report.verdict}**\n\n```\n{report.to_text()}\n```"),
            model=sample.model.name,
            model_version=sample.model.version,
            as_of=str(sample.as_of),
            horizon_days=config.horizon_days,
            roc_auc=report.auc if report.auc == report.auc else None,
            accounts=report.accounts,
            closed_won=report.won,
            report=dg.MetadataValue.json(report.to_dict()),
        )
    )


def report_table(report: BacktestReport, sample: ValidationSample) -> pd.DataFrame:
    """The report as rows a dashboard can read: the overall score, each tier, each signal."""
    rows = [{"kind": "score", "name": sample.model.name, "accounts": report.accounts, "won": report.won,
             "conversion_rate": report.base_rate, "auc": report.auc, "auc_ci_low": report.auc_ci_low,
             "auc_ci_high": report.auc_ci_high, "verdict": report.verdict}]
    rows += [{"kind": "tier", "name": t.tier, "accounts": t.accounts, "won": t.won,
              "conversion_rate": t.conversion_rate, "lift": t.lift, "lift_ci_low": t.lift_ci_low,
              "lift_ci_high": t.lift_ci_high} for t in report.tiers]
    rows += [{"kind": "signal", "name": s.signal, "auc": s.auc, "auc_ci_low": s.auc_ci_low,
              "auc_ci_high": s.auc_ci_high, "verdict": s.verdict} for s in report.signals]
    columns = ["kind", "name", "accounts", "won", "conversion_rate", "lift", "lift_ci_low", "lift_ci_high", "auc",
               "auc_ci_low", "auc_ci_high", "verdict"]
    table = pd.DataFrame(rows, columns=columns)
    return table.assign(model=sample.model.name, model_version=sample.model.version, as_of_date=sample.as_of,
                        horizon_days=sample.horizon_days)
