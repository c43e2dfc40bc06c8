"""What `make run` prints at the end, and `pls crm show`: the pipeline's result as its users see it."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from pls_pipelines.resources.crm import build_crm_client
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import Settings

TIER_ORDER = ["sales", "success", "self_serve"]


def _crm_writes(wh: Warehouse, run_id: str | None) -> pd.DataFrame:
    if run_id is None or not wh.table_exists("crm_sync_log"):
        return pd.DataFrame(columns=["object_type", "status", "n"])
    return wh.read_sql(
        "SELECT object_type, status, COUNT(*) AS n FROM crm_sync_log WHERE run_id = :run "
        "GROUP BY object_type, status ORDER BY object_type, status",
        {"run": run_id},
    )


WRITE_STATUSES = ("sent", "created", "rejected", "failed")


def _crm_line(kind: str, outcomes: pd.DataFrame) -> str:
    """'CRM (hubspot): companies sent 12 · unchanged 1,549; contacts ...' or, with nothing written, says so."""
    if outcomes.empty:
        return "CRM: the sync did not run in this run."
    if not outcomes["status"].isin(WRITE_STATUSES).any():
        return f"CRM ({kind}): [green]no changes since the last sync - 0 CRM writes.[/]"
    parts = []
    for object_type, group in outcomes.groupby("object_type", sort=True):
        counts = ", ".join(f"{r.status} {int(r.n):,}" for r in group.itertuples(index=False))
        parts.append(f"{object_type} {counts}")
    return f"CRM ({kind}): " + "; ".join(parts) + " (every record's outcome: table crm_sync_log)"


def crm_outcomes_line(wh: Warehouse, kind: str, run_id: str | None) -> str:
    """The CRM line of a run's summary (also printed by `pls sync`)."""
    return _crm_line(kind, _crm_writes(wh, run_id))


def _buyer_counts(wh: Warehouse) -> dict[str, int]:
    """Accounts with a buyer in the product, PQLs and buyers the CRM lacks; empty before buyers ran."""
    tables = ("account_buyers", "buyer_candidates", "buyers_missing_from_crm")
    if not all(wh.table_exists(t) for t in tables):
        return {}
    return {
        "accounts_with_buyer": int(wh.scalar("SELECT COUNT(*) FROM account_buyers WHERE buyer_present") or 0),
        "pqls": int(wh.scalar("SELECT COUNT(*) FROM buyer_candidates WHERE is_pql") or 0),
        "missing": int(wh.scalar("SELECT COUNT(*) FROM buyers_missing_from_crm") or 0),
    }


def print_run_summary(
    settings: Settings, run_id: str | None, seconds: float | None, console: Console | None = None
) -> None:
    console = console or Console()
    wh = Warehouse(settings.warehouse_url)
    try:
        if not wh.table_exists("account_routing"):
            console.print(
                "[yellow]No results yet: the run did not reach routing. Open `make ui` for details."
            )
            return
        routing = wh.read_table("account_routing")
        writes = _crm_writes(wh, run_id)
        rejected = (
            wh.scalar("SELECT COUNT(*) FROM usage_events_rejected")
            if wh.table_exists("usage_events_rejected")
            else 0
        )
        events = wh.scalar("SELECT COUNT(*) FROM usage_events") if wh.table_exists("usage_events") else 0
        buyers = _buyer_counts(wh)
        validation = (
            wh.read_sql("SELECT verdict, as_of_date, horizon_days FROM score_validation WHERE kind = 'score'")
            if wh.table_exists("score_validation")
            else pd.DataFrame()
        )
    finally:
        dispose_all_engines()

    as_of = routing["as_of_date"].iloc[0] if len(routing) else "-"
    took = f" in {seconds:.0f}s" if seconds is not None else ""
    console.rule(f"[bold]pls-pipelines: Product-Led Sales summary (usage as of {as_of}){took}")
    scored = routing[routing["score"].notna()]
    tiers = scored["tier"].value_counts()
    tier_text = " · ".join(f"{t} {int(tiers.get(t, 0)):,}" for t in TIER_ORDER)
    console.print(
        f"Accounts scored: [bold]{len(scored):,}[/] of {len(routing):,} "
        f"(model version {', '.join(sorted(scored['model_version'].dropna().unique())) or '-'})"
    )
    console.print(
        f"Tiers: {tier_text}   PQAs: [bold]{int(routing['is_pqa'].fillna(False).astype(bool).sum()):,}[/]"
    )
    motions = routing["motion"].value_counts()
    console.print("Motions: " + " · ".join(f"{m} {n:,}" for m, n in motions.items()))
    if buyers:
        console.print(
            f"Buyers: {buyers['accounts_with_buyer']:,} accounts with an economic buyer in the product · "
            f"PQLs {buyers['pqls']:,} · {buyers['missing']:,} buyers not yet CRM contacts "
            "(table buyers_missing_from_crm)"
        )
    console.print(
        f"Events loaded: {events:,}; quarantined with a reason: {rejected:,} (table usage_events_rejected)"
    )

    top = (
        routing[routing["is_pqa"].fillna(False).astype(bool)]
        .sort_values(["score", "account_id"], ascending=[False, True])
        .head(10)
    )
    table = Table(title="Top 10 product-qualified accounts", expand=False)
    for column, kwargs in [
        ("#", {"justify": "right"}),
        ("Account", {}),
        ("Domain", {}),
        ("Score", {"justify": "right"}),
        ("Motion", {}),
        ("Economic buyer", {}),
    ]:
        table.add_column(column, **kwargs)
    for rank, row in enumerate(top.itertuples(index=False), start=1):
        buyer = (
            row.economic_buyer_name if isinstance(row.economic_buyer_name, str) else "[dim]none in product"
        )
        title = f" ({row.economic_buyer_title})" if isinstance(row.economic_buyer_title, str) else ""
        table.add_row(
            str(rank),
            str(row.account_name),
            str(row.domain or ""),
            str(int(row.score)),
            str(row.motion),
            f"{buyer}{title}",
        )
    console.print(table)
    # Reasons are sentences: a table column would wrap them into a tall, unreadable strip.
    for rank, row in enumerate(top.itertuples(index=False), start=1):
        console.print(f"  {rank:>2}. [bold]{row.account_name}[/]: {row.reasons or ''}", highlight=False)

    if not validation.empty:
        fit = validation.iloc[0]
        console.print(
            f"Does the score predict wins? Scored as of {fit['as_of_date']}, closed-won within "
            f"{int(fit['horizon_days'])} days: {fit['verdict']} ([bold]pls backtest[/] for the details)",
            highlight=False,
        )
    console.print(_crm_line(settings.crm_kind, writes), highlight=False)
    if settings.report_path.exists():
        console.print(f"Report: [bold]{settings.report_path.resolve().as_uri()}[/] (open it in a browser: charts, "
                      "the scorecard and the call list)", highlight=False)
    example = top["domain"].dropna().head(1).tolist() or routing["domain"].dropna().head(1).tolist()
    console.print(
        "Next: [bold]make ui[/] for lineage, run history and checks (http://127.0.0.1:3000); "
        f"[bold].venv/bin/pls crm show {example[0] if example else '<domain>'}[/] to see a company as a seller does."
    )


def print_company(settings: Settings, query: str, console: Console | None = None) -> bool:
    """Print one CRM company with its pls_* fields and contacts; False when no company matches."""
    console = console or Console()
    crm = build_crm_client(settings.crm_kind, settings.local_crm_url)
    try:
        company = crm.find_company(query)
        if company is None:
            return False
        props = crm.read_properties("companies", [company["company_id"]])
        definitions = crm.property_definitions("companies").set_index("name")
        contacts = crm.read("contacts")
        contacts = contacts[contacts["company_id"] == company["company_id"]]
        contact_props = crm.read_properties("contacts", contacts["contact_id"].tolist())
    finally:
        crm.close()

    console.rule(f"[bold]{company['name']}[/] ({company['domain']}) - CRM company {company['company_id']}")
    console.print(
        f"Industry: {company['industry']}   Employees: {company['employee_count']}   "
        f"Lifecycle: {company['lifecycle_stage']}   Owner: {company['owner_id']}"
    )
    fields = Table(title="Product-Led Sales (synced by pls-pipelines)", expand=True)
    fields.add_column("Field")
    fields.add_column("Value", ratio=3)
    for row in props.itertuples(index=False):
        label = definitions["label"].get(row.name, row.name) if not definitions.empty else row.name
        fields.add_row(f"{label} [dim]({row.name})", "" if row.value is None else str(row.value))
    if props.empty:
        fields.add_row("[dim]not synced yet", "run `make run`")
    console.print(fields)

    people = Table(title=f"Contacts ({len(contacts)})", expand=True)
    for column in ("Name", "Title", "Persona", "Buying power", "PQL", "Evidence"):
        people.add_column(column)
    by_contact = {
        cid: dict(zip(group["name"], group["value"], strict=True))
        for cid, group in contact_props.groupby("record_id")
    }
    ordered = contacts.assign(
        _power=contacts["contact_id"].map(lambda c: float(by_contact.get(c, {}).get("pls_buying_power") or 0))
    ).sort_values(["_power", "contact_id"], ascending=[False, True])
    for row in ordered.head(15).itertuples(index=False):
        p = by_contact.get(row.contact_id, {})
        people.add_row(
            f"{row.first_name} {row.last_name}",
            str(row.title or ""),
            p.get("pls_persona", ""),
            p.get("pls_buying_power", ""),
            p.get("pls_is_pql", ""),
            p.get("pls_evidence", ""),
        )
    console.print(people)
    return True
