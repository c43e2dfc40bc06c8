"""`pls explain`, `pls score`, `pls backtest`, `pls fit`: the scoring engine for RevOps, at the command line.

`pls score` needs no Dagster and no warehouse: it reads any features table (CSV or Parquet) and writes scores, so
teams whose rollups live in dbt can use the scorer alone. `pls explain`, and `pls backtest` / `pls fit` without
`--features`, read the warehouse `make run` fills. `pls fit` writes a candidate file and never touches the
active rules: changing what sellers see stays a human decision.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime
from pathlib import Path

import click
import pandas as pd

from pls_pipelines.lib.errors import ConfigError

TABLE_SUFFIXES = (".csv", ".parquet")


def fail(message: str, code: int = 2) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def read_table_file(path: Path) -> pd.DataFrame:
    """A features table from CSV or Parquet (by extension)."""
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ConfigError(f"{path}: use a .csv or .parquet file")
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


def write_table_file(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ConfigError(f"--out {path}: use a .csv or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _scoring_rules(config: Path | None):
    """(scoring config, segment thresholds) without Dagster: `pls score` must run where only the library is."""
    from pls_pipelines.lib.routing import load_routing_rules
    from pls_pipelines.lib.scoring_config import load_scoring_config
    from pls_pipelines.settings import load_settings

    segments = load_routing_rules().segments
    return load_scoring_config(config or load_settings().scoring_config, segments=segments), segments


def _rules(config: Path | None):
    """The rule files: --config for the scoring models, else PLS_SCORING_CONFIG, else the shipped ones."""
    from pls_pipelines.resources.rules import RulesResource
    from pls_pipelines.settings import load_settings

    settings = load_settings()
    path = config or settings.scoring_config
    return RulesResource(scoring_config=str(path) if path else None)


config_option = click.option(
    "--config", "config", type=click.Path(path_type=Path, dir_okay=False),
    help="Scoring models YAML (default: PLS_SCORING_CONFIG, else the shipped models).",
)
model_option = click.option("--model", default=None, help="Scoring model (default: the primary models).")


# -- pls score ---------------------------------------------------------------------------------------------
@click.command("score")
@click.option("--features", "features_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Account features table, .csv or .parquet (columns: see README, 'Bring your own features').")
@model_option
@config_option
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the scores (.csv or .parquet).")
def score_command(features_path: Path, model: str | None, config: Path | None, out: Path) -> None:
    """Score any account features table with the YAML models, without Dagster or a warehouse.

    Without --model: one row per account from the primary models (pqa for prospects, expansion for customers),
    as routing and the CRM get them. With --model: that model, plus one points_<component> column per component.
    """
    from pls_pipelines.lib.feature_check import prepare_features
    from pls_pipelines.lib.scoring import combine_scores, primary_scores, score_model

    started = time.monotonic()
    try:
        scoring, segments = _scoring_rules(config)
        models = [scoring.model(model)] if model else [scoring.model(name) for name in scoring.primary_models]
        table = read_table_file(features_path)
        frame, check = prepare_features(table, models, segments, scoring.custom_columns)
        results = [score_model(frame, m, **scoring.reason_options) for m in models]
        if model:
            points = results[0].points_table().add_prefix("points_").rename(columns={"points_account_id": "account_id"})
            scores = results[0].scores.merge(points, on="account_id")
        else:
            scores = primary_scores(combine_scores(results), scoring.primary_models)
        write_table_file(scores, out)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    for note in check.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    tiers = " · ".join(f"{tier} {n:,}" for tier, n in scores["tier"].value_counts().items())
    versions = ", ".join(f"{r.model.name} {r.model.version}" for r in results)
    click.echo(f"Scored {len(scores):,} of {len(table):,} accounts ({versions}) in {time.monotonic() - started:.1f}s: "
               f"{tiers}; PQAs {int(scores['is_pqa'].sum()):,}. Wrote {out}.")


# -- pls explain -------------------------------------------------------------------------------------------
@click.command("explain")
@click.argument("account")
@model_option
def explain_command(account: str, model: str | None) -> None:
    """Why an account scored what it did: every model, every component, its points and the thresholds.

    ACCOUNT is an account id, CRM company id, domain or company name, as in the last `make run`.
    """
    from pls_pipelines.explain import explain_account
    from pls_pipelines.settings import load_settings

    try:
        found = explain_account(load_settings(), _rules(None), account, model)
    except ConfigError as exc:
        fail(str(exc))
    if not found:
        fail(f"no scored account matches {account!r} (try its domain, e.g. acme.com, or run `make run` first)", 1)


# -- pls backtest / pls fit --------------------------------------------------------------------------------
def _sample(features_path: Path | None, outcome: str | None, as_of: datetime | None, horizon_days: int,
            model: str | None, config: Path | None):
    """The accounts to validate on, as a ValidationSample: from a features file with an outcome column, or
    point-in-time from the warehouse (scores as of a past day, outcome = closed-won in the days after)."""
    from pls_pipelines.assets.validation import OUTCOME, ValidationSample, validation_sample

    rules = _rules(config)
    day = as_of.date() if as_of else None
    if features_path is None:
        if outcome:
            raise ConfigError("--outcome names a column of --features; without --features the outcome comes from "
                              "the CRM deals in the warehouse")
        from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
        from pls_pipelines.settings import load_settings

        wh = Warehouse(load_settings().warehouse_url)
        try:
            if not wh.table_exists("user_daily_activity"):
                raise ConfigError("the warehouse has no user_daily_activity yet: run `make run` first, or pass "
                                  "--features FILE --outcome COLUMN")
            return validation_sample(wh, rules, model, day, horizon_days)
        finally:
            dispose_all_engines()
    if not outcome:
        raise ConfigError("--features needs --outcome COLUMN: the column saying whether each account closed-won")
    from pls_pipelines.lib.feature_check import prepare_features
    from pls_pipelines.lib.scoring import score_model

    scoring = rules.scoring()
    chosen = scoring.model(model or scoring.primary_models[0])
    table = read_table_file(features_path)
    if outcome not in table.columns:
        raise ConfigError(f"--outcome {outcome!r} is not a column of {features_path} (columns: "
                          f"{', '.join(map(str, table.columns[:30]))})")
    if day is not None:
        if "as_of_date" not in table.columns:
            raise ConfigError(f"--as-of needs an as_of_date column in {features_path} to pick that day's rows")
        table = table[pd.to_datetime(table["as_of_date"], errors="coerce").dt.date == day]
        if table.empty:
            raise ConfigError(f"{features_path} has no rows with as_of_date {day}")
    frame, check = prepare_features(table, [chosen], rules.routing().segments, scoring.custom_columns)
    for note in check.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    result = score_model(frame, chosen, **scoring.reason_options)
    sample = result.scores[["account_id", "score", "tier", "is_pqa"]].merge(result.points_table(), on="account_id")
    sample[OUTCOME] = sample["account_id"].map(table.drop_duplicates("account_id").set_index("account_id")[outcome])
    return ValidationSample(chosen, day or date.today(), 0, sample)


sample_options = [
    click.option("--features", "features_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
                 help="Features table (.csv/.parquet) with an outcome column; default: the warehouse, point-in-time."),
    click.option("--outcome", default=None, help="With --features: the column that says closed-won (true/1)."),
    click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="Score as of this day: rows with this as_of_date in --features, or the warehouse state "
                 "then (default: the newest activity minus the horizon)."),
    click.option("--horizon-days", default=60, show_default=True,
                 help="Without --features: a win counts when it closed within this many days after --as-of."),
    model_option,
    config_option,
]


def _with_sample_options(command):
    for option in reversed(sample_options):
        command = option(command)
    return command


def _describe(sample) -> str:
    if sample.horizon_days:
        return (f"{sample.model.name} (version {sample.model.version}) as of {sample.as_of}, outcome: closed-won "
                f"within {sample.horizon_days} days (CRM deals)")
    return f"{sample.model.name} (version {sample.model.version}), outcome column from the features file"


@click.command("backtest")
@_with_sample_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed (same seed, same intervals).")
def backtest_command(features_path, outcome, as_of, horizon_days, model, config, as_json, seed) -> None:
    """Does the score predict closed-won deals? Lift per tier, precision/recall, ROC AUC with a bootstrap
    interval and each signal's AUC - and a plain "no lift" when the interval includes chance."""
    try:
        sample = _sample(features_path, outcome, as_of, horizon_days, model, config)
        report = sample.run_backtest(seed=seed)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"model": sample.model.name, "model_version": sample.model.version,
                               "as_of": str(sample.as_of), "horizon_days": sample.horizon_days,
                               **report.to_dict()}, indent=2))
        return
    click.secho(f"Backtest of {_describe(sample)}", bold=True)
    click.echo(report.to_text())


@click.command("fit")
@_with_sample_options
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Candidate YAML to write (default: PLS_HOME/candidates/<model>-fitted-<time>.yaml).")
@click.option("--folds", default=5, show_default=True, help="Cross-validation folds.")
def fit_command(features_path, outcome, as_of, horizon_days, model, config, out, folds) -> None:
    """Propose weights learned from outcomes (cross-validated logistic regression) as a candidate scoring file.

    The active rules are never changed: review the candidate, backtest it (`pls backtest --config FILE`), then
    point PLS_SCORING_CONFIG at it or copy the weights.
    """
    from pls_pipelines.lib.candidate import candidate_yaml
    from pls_pipelines.lib.fitting import fit_weights
    from pls_pipelines.lib.scoring_config import load_scoring_config
    from pls_pipelines.settings import load_settings

    try:
        sample = _sample(features_path, outcome, as_of, horizon_days, model, config)
        positive = sample.positive_components
        rules = sample.model.base_rules
        result = fit_weights(sample.table[positive], sample.table["outcome"].astype(bool),
                             current_weights={name: rules.weights[name] for name in positive}, folds=folds)
        active = _rules(config).scoring().path
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = Path(out or load_settings().home / "candidates" / f"{sample.model.name}-fitted-{stamp}.yaml")
        if target.resolve() == Path(active).resolve():
            raise ConfigError(f"--out {target} is the active scoring file: `pls fit` only writes candidates; "
                              "choose another path")
        source = str(features_path) if features_path else _describe(sample)
        text = candidate_yaml(Path(active).read_text(encoding="utf-8"), sample.model.name, result, source,
                              date.today())
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        load_scoring_config(target)  # the candidate must load like any scoring file
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    click.secho(f"Fitted weights for {_describe(sample)}", bold=True)
    for name in positive:
        before, after = rules.weights[name], result.weights.get(name)
        shown = f"{after:.2f}" if after is not None else "dropped (no positive effect)"
        click.echo(f"  {name:<22} {before:.2f} -> {shown}")
    better = result.cv_auc_mean - result.baseline_cv_auc_mean
    click.echo(f"Cross-validated ROC AUC ({result.folds} folds): fitted {result.cv_auc_mean:.3f} "
               f"± {result.cv_auc_std:.3f}, current weights {result.baseline_cv_auc_mean:.3f} ({better:+.3f}).")
    click.echo(f"Candidate written to {target} - the active rules are unchanged. Try it: "
               f"pls backtest --config {target}")
