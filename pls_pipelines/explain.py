"""`pls explain <account>`: the full breakdown behind an account's scores, for RevOps and curious sellers.

The CRM field holds the top few reasons; this prints everything: each model's score, tier and version, the
thresholds the account's segment is scored against, and every component's value, points, weight and
contribution (from pqa_score_components, exactly what the pipeline computed), plus when it first became a PQA.
"""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from pls_pipelines.lib.score_history import SCORE_HISTORY, pqa_milestones
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import Settings


def find_account(accounts: pd.DataFrame, query: str) -> pd.Series | None:
    """The account a person means: its id, CRM company id, domain (any case, with or without www.), or a
    unique name match (exact, then a unique substring)."""
    text = query.strip().lower().removeprefix("www.")
    for column in ("account_id", "crm_company_id", "domain"):
        hits = accounts[accounts[column].astype(str).str.lower() == text]
        if len(hits):
            return hits.iloc[0]
    names = accounts["account_name"].astype(str).str.lower()
    for hits in (accounts[names == text], accounts[names.str.contains(text, regex=False)]):
        if len(hits) == 1:
            return hits.iloc[0]
    return None


def explain_account(
    settings: Settings, rules: RulesResource, query: str, model: str | None, console: Console | None = None
) -> bool:
    """Print the breakdown; False when no scored account matches `query`."""
    console = console or Console()
    wh = Warehouse(settings.warehouse_url)
    try:
        if not wh.table_exists("pqa_score_components"):
            return False
        accounts = wh.read_table("account_usage_rollup", ["account_id", "account_name", "domain", "crm_company_id",
                                                          "segment", "employee_count", "is_customer", "as_of_date"])
        account = find_account(accounts, query)
        if account is None:
            return False
        params = {"account": account["account_id"]}
        scores = wh.read_sql("SELECT * FROM pqa_scores WHERE account_id = :account ORDER BY model", params)
        components = wh.read_sql("SELECT * FROM pqa_score_components WHERE account_id = :account", params)
        history = (wh.read_sql(f"SELECT * FROM {SCORE_HISTORY} WHERE account_id = :account", params)
                   if wh.table_exists(SCORE_HISTORY) else pd.DataFrame())
    finally:
        dispose_all_engines()

    config = rules.scoring()
    if model:
        config.model(model)  # a typo gets "did you mean"
        scores = scores[scores["model"] == model]
    segment = account["segment"] if isinstance(account["segment"], str) else None
    kind = "paying customer" if bool(account["is_customer"]) else "prospect"
    console.rule(f"[bold]{account['account_name']}[/] ({account['domain'] or 'no domain'})")
    console.print(f"Account {account['account_id']}, {kind}, segment {segment or 'unknown'}, "
                  f"usage as of {account['as_of_date']}")
    for row in scores.itertuples(index=False):
        scoring_model = config.models.get(row.model)
        is_primary = row.model in config.primary_models
        primary = " (primary: routing and the CRM use it)" if is_primary else " (for comparison)"
        console.print(f"\n[bold]{row.model}[/]{primary}: score [bold]{row.score}[/], tier [bold]{row.tier}[/]"
                      f"{', PQA' if row.is_pqa else ''} - model version {row.model_version}")
        if scoring_model is not None:
            rules_used = scoring_model.rules_for(segment)
            tiers = ", ".join(f"{t.name} {t.min_score}+" for t in rules_used.tiers[:-1])
            overridden = f" ({segment} overrides)" if segment in scoring_model.segments else ""
            stale = "" if scoring_model.version == row.model_version else (
                " [yellow]The rules changed since this score (now version "
                f"{scoring_model.version}); re-run to rescore.[/]")
            console.print(f"Thresholds{overridden}: {tiers}, PQA at {rules_used.pqa_threshold}.{stale}")
        console.print(_component_table(components[components["model"] == row.model], row.score))
        console.print(f"{'In the CRM' if is_primary else 'Reasons'}: {row.reasons}", highlight=False)
        _print_history(console, history, row.model)
    return True


def _component_table(components: pd.DataFrame, score: int) -> Table:
    table = Table(expand=False)
    for column, justify in (("Component", "left"), ("Value", "right"), ("Points (0-100)", "right"),
                            ("Weight", "right"), ("Contribution", "right")):
        table.add_column(column, justify=justify)
    ordered = components.assign(_size=components["contribution"].abs()).sort_values(
        ["_size", "component"], ascending=[False, True])
    for row in ordered.itertuples(index=False):
        value = "no data" if pd.isna(row.value) else f"{row.value:,.4g}"
        penalty = " (penalty)" if row.weight < 0 else ""
        table.add_row(f"{row.component}{penalty}", value, f"{row.points:.1f}", f"{abs(row.weight):.2f}",
                      f"{row.contribution:+.1f}" if round(row.contribution, 1) else "0.0")
    total = components["contribution"].sum()
    table.add_row("[bold]Score[/]", "", "", "", f"[bold]{total:.1f} -> {score}[/]")
    table.caption = "Score = sum of contributions, rounded half up, kept within 1-100."
    return table


def _print_history(console: Console, history: pd.DataFrame, model: str) -> None:
    if history.empty or not (history["model"] == model).any():
        return
    milestone = pqa_milestones(history, model).iloc[0]
    days = f"{milestone['first_snapshot']} .. {milestone['last_snapshot']}"
    if pd.isna(milestone["became_pqa_at"]):
        became = "never a PQA"
    elif milestone["pqa_on_first_snapshot"]:
        became = f"already a PQA on {milestone['became_pqa_at']}, the first day of history"
    else:
        became = f"became a PQA on {milestone['became_pqa_at']}"
    console.print(f"History ({days}): {became}; {int(milestone['tier_moves'])} tier changes.")
