"""The static HTML report: headline figures, the charts and the top PQAs, in one self-contained file.

The page carries everything it needs: plotly.js is inlined once in the head, the CSS is inline, there are no
external fonts, scripts or images, so the file opens offline, from an email attachment or a shared drive. Every
section degrades on its own: a table that is missing or empty gives that section a "no data yet" note.
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from pls_pipelines.lib.privacy import mask_email
from pls_pipelines.report import charts
from pls_pipelines.resources.warehouse import Warehouse

METRICS_TABLE = "pls_metrics"
BREAKDOWNS_TABLE = "pls_metric_breakdowns"
ROUTING_TABLE = "account_routing"
HISTORY_TABLE = "pqa_score_history"
VALIDATION_TABLE = "score_validation"
INPUT_TABLES = (METRICS_TABLE, BREAKDOWNS_TABLE, ROUTING_TABLE, HISTORY_TABLE, VALIDATION_TABLE)
TOP_ACCOUNTS = 25
NO_DATA = "No data yet"

# Headline cards in reading order: is the product creating PQAs, how fast, do they close, do customers grow.
HEADLINE_ORDER = (
    "pqas_current", "pqa_share", "time_to_pqa_days_median", "time_to_pqa_days_p75", "pqa_to_won_conversion",
    "pqa_to_close_days_median", "pq_pipeline_amount", "pq_won_amount", "expansion_arr", "net_revenue_retention",
    "logo_retention", "accounts",
)
ROUTING_COLUMNS = (
    "account_id", "account_name", "domain", "segment", "score", "tier", "is_pqa", "reasons", "model",
    "model_version", "motion", "motion_reason", "economic_buyer_name", "economic_buyer_title", "champion_name",
    "champion_title", "as_of_date",
)
PLOT_CONFIG = {
    "displaylogo": False,
    # A report is for reading: the toolbar covered legends and the top bars; hover details stay.
    "displayModeBar": False,
    "responsive": True,
}


# --- inputs -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportInputs:
    """What the report is drawn from. A table that is missing (or empty) is None."""

    routing: pd.DataFrame | None = None
    daily_tiers: pd.DataFrame | None = None  # snapshot_date, tier, accounts: pqa_score_history of `model`
    validation: pd.DataFrame | None = None
    metrics: pd.DataFrame | None = None
    breakdowns: pd.DataFrame | None = None
    model: str = "pqa"  # the new-business model: its accounts are the prospects the charts are about
    tiers: tuple[str, ...] = charts.DEFAULT_TIERS  # highest first
    thresholds: Mapping[str, int] = field(default_factory=lambda: {"sales": 80, "success": 60})
    missing: tuple[str, ...] = ()  # input tables that do not exist (yet)


def read_inputs(
    wh: Warehouse,
    model: str = "pqa",
    tiers: Sequence[str] | None = None,
    thresholds: Mapping[str, int] | None = None,
) -> ReportInputs:
    """The report's tables from the warehouse. The score history is counted per day and tier in the warehouse:
    the report needs 90 numbers a tier, not every account's every day."""
    present = {t for t in INPUT_TABLES if wh.table_exists(t)}

    def table(name: str, wanted: Sequence[str] | None = None) -> pd.DataFrame | None:
        if name not in present:
            return None
        columns = [c for c in wh.columns(name) if wanted is None or c in wanted]
        frame = wh.read_table(name, columns)
        return None if frame.empty else frame

    daily = None
    if HISTORY_TABLE in present and {"snapshot_date", "tier", "model"} <= set(wh.columns(HISTORY_TABLE)):
        daily = wh.read_sql(
            f"SELECT snapshot_date, tier, COUNT(*) AS accounts FROM {HISTORY_TABLE} WHERE model = :model "
            "GROUP BY snapshot_date, tier",
            {"model": model},
        )
        daily = None if daily.empty else daily
    return ReportInputs(
        routing=table(ROUTING_TABLE, ROUTING_COLUMNS),
        daily_tiers=daily,
        validation=table(VALIDATION_TABLE),
        metrics=table(METRICS_TABLE),
        breakdowns=table(BREAKDOWNS_TABLE),
        model=model,
        tiers=tuple(tiers or charts.DEFAULT_TIERS),
        thresholds=dict(thresholds) if thresholds is not None else {"sales": 80, "success": 60},
        missing=tuple(t for t in INPUT_TABLES if t not in present),
    )


# --- figures as people read them ------------------------------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def format_figure(value: object, unit: str) -> str:
    """A metric as people read it: 34% (4.5% under 10%), 1,204,500, 1.08x, 12 days, 1,961 - or n/a."""
    if _missing(value):
        return "n/a"
    number = float(value)  # type: ignore[arg-type]
    if unit == "share":
        return f"{number:.1%}" if abs(number) < 0.1 and number != 0 else f"{number:.0%}"
    if unit == "ratio":
        return f"{number:.2f}x"
    if unit == "days":
        return "1 day" if round(number) == 1 else f"{number:,.0f} days"
    return f"{number:,.0f}"


@dataclass(frozen=True)
class Headline:
    metric: str
    label: str
    value: str
    detail: str
    definition: str
    sources: str


def headlines(metrics: pd.DataFrame | None) -> list[Headline]:
    """pls_metrics rows as formatted figures, in the report's reading order (unknown metrics last)."""
    if metrics is None or metrics.empty or "metric" not in metrics.columns:
        return []
    rank = {m: i for i, m in enumerate(HEADLINE_ORDER)}
    rows = metrics.assign(_rank=metrics["metric"].map(lambda m: rank.get(m, len(rank)))).sort_values(
        "_rank", kind="stable")

    def text(row: pd.Series, column: str) -> str:
        value = row.get(column)
        return "" if _missing(value) else str(mask_email(str(value)))

    return [
        Headline(str(row["metric"]), text(row, "label") or str(row["metric"]),
                 format_figure(row.get("value"), str(row.get("unit") or "count")), text(row, "detail"),
                 text(row, "definition"), text(row, "sources"))
        for _, row in rows.iterrows()
    ]


def headline_markdown(inputs: ReportInputs, link: str | None = None) -> str:
    """The headline figures as a markdown table (Dagster asset metadata), with the report's link first."""
    lines = [f"**Report:** [{link}]({link})", ""] if link else []
    verdict = _verdict(inputs.validation)
    if verdict:
        lines += [f"**Does the score predict wins?** {verdict}", ""]
    figures = headlines(inputs.metrics)
    if not figures:
        return "\n".join([*lines, f"_Headline figures: {NO_DATA.lower()} ({METRICS_TABLE} is missing or empty)._"])
    lines += ["| Figure | Value | Detail |", "|---|---:|---|"]
    lines += [f"| {h.label} | {h.value} | {h.detail.replace('|', '/')} |" for h in figures]
    return "\n".join(lines)


# --- the page -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartSection:
    key: str
    title: str
    figure: go.Figure | None
    how_to_read: str
    empty_note: str


def chart_sections(inputs: ReportInputs) -> list[tuple[str, list[ChartSection]]]:
    """The charts, grouped under headings, each with its "how to read this" line."""
    prospects = charts.prospects(inputs.routing, inputs.model)
    metric_value = _metric_values(inputs.metrics)
    first, last = _history_span(inputs.daily_tiers)
    span = f" (the score history runs {first} to {last})" if first else ""
    validation = inputs.validation
    as_of, horizon = _validation_window(validation)
    no_breakdowns = f"{BREAKDOWNS_TABLE} has no rows for this yet (it is written by the pls_metrics asset)."
    pipeline = [
        ChartSection(
            "tier_funnel", "From scored account to a seller's call", charts.tier_funnel(prospects, inputs.tiers),
            "Read down: each bar is part of the one above, the percentage is of all scored prospects. A big drop "
            "from PQA to 'with an economic buyer' means PQAs whose buyer is not in the product yet: work for ABM.",
            f"{ROUTING_TABLE} is missing or empty."),
        ChartSection(
            "pqas_per_month", "New PQAs per month", charts.pqas_per_month(inputs.breakdowns),
            "Each bar counts the accounts that became a PQA for the first time that month. A rising row of bars "
            f"means the product creates more pipeline; the first and last months can be partial{span}.",
            no_breakdowns),
        ChartSection(
            "time_to_pqa", "Days from signup to PQA",
            charts.time_to_pqa(inputs.breakdowns, metric_value.get("time_to_pqa_days_median"),
                               metric_value.get("time_to_pqa_days_p75")),
            "Each bar counts the accounts that took that many days from their first workspace signup to their "
            "first day as a PQA; half of them got there before the median line. Accounts that were already PQAs "
            "when the score history began are left out: their time is unknown.",
            no_breakdowns),
        ChartSection(
            "pqas_per_day", "Accounts in the top tiers, day by day", charts.pqas_per_day(inputs.daily_tiers,
                                                                                         inputs.tiers),
            f"One line per tier above self-serve (model {inputs.model}): how many prospects were in it each day. "
            "A rising sales line means more accounts ready for a seller; a sudden step usually means a rule "
            "change (see the model version).",
            f"{HISTORY_TABLE} is missing or has no rows for model {inputs.model}."),
    ]
    score = [
        ChartSection(
            "score_distribution", "Where today's scores fall",
            charts.score_distribution(prospects, inputs.tiers, dict(inputs.thresholds)),
            "Each bar counts the prospects whose score falls in a 5-point band, coloured by tier. Dashed lines "
            "are the model's tier thresholds (segment rules can move them, so colours overlap near a line); a "
            "bulge just left of a line is next month's pipeline.",
            f"{ROUTING_TABLE} is missing or empty."),
        ChartSection(
            "conversion_by_tier", "Do higher tiers close more deals?",
            charts.conversion_by_tier(validation, inputs.tiers),
            (f"Accounts scored as of {as_of} and whether they closed-won in the {horizon} days after: " if as_of
             else "Each tier's share of accounts that closed-won afterwards: ")
            + "the label says how many times the average that is, the whiskers are the 95% interval. A sales "
            "bar well above the dashed average line means the score earns its keep.",
            f"{VALIDATION_TABLE} is missing or has no tier rows (it needs closed-won deals in the CRM)."),
    ]
    motions = [
        ChartSection(
            "motions_by_segment", "Which motion each company size gets", charts.motions_by_segment(inputs.routing),
            "Each bar is one company size (by employee count), split by the motion its accounts are routed to. "
            "Expect SMB mostly self-serve and more sales, success and ABM as companies grow.",
            f"{ROUTING_TABLE} is missing or empty."),
        ChartSection(
            "feature_adoption", "Feature adoption by company size", charts.feature_adoption(inputs.breakdowns),
            "Each cell is the share of a segment's accounts that used the feature in the last 28 days. A pale "
            "cell where a segment should live in a feature points at onboarding work.",
            no_breakdowns),
    ]
    return [("Pipeline from the product", pipeline), ("Does the score work?", score),
            ("Motions", motions)]


def render_report(inputs: ReportInputs, generated_at: datetime | None = None) -> str:
    """The whole page as one HTML string."""
    generated_at = generated_at or datetime.now(UTC)
    groups = chart_sections(inputs)
    has_charts = any(s.figure is not None for _, sections in groups for s in sections)
    body = [
        _header(inputs, generated_at),
        _verdict_block(inputs.validation),
        _cards(inputs.metrics),
        *(_group(title, sections) for title, sections in groups),
        _top_accounts(inputs.routing),
        _footer(inputs, generated_at),
    ]
    script = f"<script>{get_plotlyjs()}</script>" if has_charts else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>Product-Led Sales report</title>\n<link rel=\"icon\" href=\"data:,\">\n"
        f"<style>{CSS}</style>\n{script}\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n</main>\n</body>\n</html>\n"
    )


def write_report(page: str, path: Path) -> Path:
    """Write atomically (a temp file in the same folder, then rename): a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be opened by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class ReportResult:
    path: Path
    charts_drawn: tuple[str, ...]
    charts_without_data: tuple[str, ...]
    top_accounts: int
    headline_markdown: str
    missing_tables: tuple[str, ...]

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()


def build_report(inputs: ReportInputs, path: Path, generated_at: datetime | None = None) -> ReportResult:
    """Render the report from `inputs`, write it to `path`, and say what it holds."""
    write_report(render_report(inputs, generated_at), path)
    sections = [s for _, group in chart_sections(inputs) for s in group]
    result = ReportResult(
        path=path,
        charts_drawn=tuple(s.key for s in sections if s.figure is not None),
        charts_without_data=tuple(s.key for s in sections if s.figure is None),
        top_accounts=len(top_accounts(inputs.routing)),
        headline_markdown="",
        missing_tables=inputs.missing,
    )
    return replace(result, headline_markdown=headline_markdown(inputs, result.uri))


# --- sections -------------------------------------------------------------------------------------------------


def _e(value: object) -> str:
    """Text for HTML: emails masked, then escaped."""
    return html.escape(str(mask_email(str(value))), quote=True)


def _no_data(note: str) -> str:
    return f'<div class="no-data"><strong>{NO_DATA}.</strong> {_e(note)}</div>'


def _header(inputs: ReportInputs, generated_at: datetime) -> str:
    as_of = _as_of(inputs)
    versions = _model_versions(inputs.routing, inputs.model)
    facts = [f"As of <strong>{_e(as_of)}</strong>" if as_of else "As of: no scores yet"]
    if versions:
        named = ", ".join(f"{_e(m)} <code>{_e(v)}</code>" for m, v in versions)
        facts.append(("Models " if len(versions) > 1 else "Model ") + named)
    facts.append(f"Generated {_e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))}")
    return (
        '<header class="top"><h1>Product-Led Sales report</h1>'
        '<p class="lede">Which accounts the product qualifies for a sales conversation, how fast, whether they '
        "close, and who to call.</p>"
        f'<p class="facts">{" &middot; ".join(facts)}</p></header>'
    )


def _verdict_block(validation: pd.DataFrame | None) -> str:
    verdict = _verdict(validation)
    if not verdict:
        return ""
    return f'<p class="verdict"><span>Does the score predict wins?</span> {_e(verdict)}</p>'


def _cards(metrics: pd.DataFrame | None) -> str:
    figures = headlines(metrics)
    if not figures:
        return ('<section id="headline"><h2>Headline figures</h2>'
                + _no_data(f"{METRICS_TABLE} is missing or empty: the pls_metrics asset has not run yet.")
                + "</section>")
    cards = "".join(
        f'<div class="card" data-metric="{_e(h.metric)}" title="{_e(h.definition)} Sources: {_e(h.sources)}">'
        f'<div class="card-label">{_e(h.label)}</div><div class="card-value{" na" if h.value == "n/a" else ""}">'
        f'{_e(h.value)}</div><div class="card-detail" title="{_e(h.detail)}">{_e(h.detail)}</div></div>'
        for h in figures
    )
    return f'<section id="headline"><h2>Headline figures</h2><div class="cards">{cards}</div></section>'


def _group(title: str, sections: list[ChartSection]) -> str:
    return f'<section class="group"><h2>{_e(title)}</h2><div class="grid">{"".join(map(_chart, sections))}</div>' \
           "</section>"


def _chart(section: ChartSection) -> str:
    if section.figure is None:
        inner = _no_data(section.empty_note)
    else:
        height = section.figure.layout.height or charts.HEIGHT
        inner = section.figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{section.key}", config=PLOT_CONFIG,
            default_width="100%", default_height=f"{height}px",
        )
    return (
        f'<article class="chart" id="{section.key}" data-chart="{section.key}">'
        f"<h3>{_e(section.title)}</h3>{inner}"
        f'<p class="how"><span>How to read this:</span> {_e(section.how_to_read)}</p></article>'
    )


def top_accounts(routing: pd.DataFrame | None, limit: int = TOP_ACCOUNTS) -> pd.DataFrame:
    """The PQAs with the highest scores (every primary model: prospects and expansion), best first."""
    if routing is None or routing.empty or not {"is_pqa", "score"} <= set(routing.columns):
        return pd.DataFrame()
    pqas = routing[routing["is_pqa"].fillna(False).astype(bool)]
    by = ["score", "account_name"] if "account_name" in pqas.columns else ["score"]
    return pqas.sort_values(by, ascending=[False, True][: len(by)], kind="stable").head(limit)


def _top_accounts(routing: pd.DataFrame | None) -> str:
    heading = f'<section id="top-accounts"><h2>Top {TOP_ACCOUNTS} PQAs: who to call</h2>'
    rows = top_accounts(routing)
    if rows.empty:
        note = f"{ROUTING_TABLE} is missing or empty." if routing is None else "No account is a PQA today."
        return heading + _no_data(note) + "</section>"

    def cell(row: pd.Series, column: str) -> str:
        value = row.get(column)
        return "" if _missing(value) or str(value).strip() == "" else _e(value)

    def person(row: pd.Series, role: str) -> str:
        name, title = cell(row, f"{role}_name"), cell(row, f"{role}_title")
        if not name:
            return '<span class="muted">none found</span>'
        return name + (f'<div class="sub">{title}</div>' if title else "")

    def pill(kind: str, value: object, tip: str = "") -> str:
        if _missing(value) or not str(value).strip():
            return ""
        css = re.sub(r"[^a-z0-9_]", "", str(value).lower())
        tip_attr = f' title="{tip}"' if tip else ""
        return f'<span class="pill {kind}-{css}"{tip_attr}>{_e(charts.label(value))}</span>'

    body = []
    for rank, (_, row) in enumerate(rows.iterrows(), start=1):
        name = cell(row, "account_name") or cell(row, "account_id")
        domain = cell(row, "domain")
        score = row.get("score")
        body.append(
            "<tr>"
            f'<td class="num muted">{rank}</td>'
            f'<td class="account">{name}' + (f'<div class="sub">{domain}</div>' if domain else "") + "</td>"
            f'<td class="num score">{"" if _missing(score) else f"{float(score):.0f}"}</td>'
            f"<td>{pill('tier', row.get('tier'))}</td>"
            f"<td>{pill('motion', row.get('motion'), cell(row, 'motion_reason'))}</td>"
            f'<td class="reasons">{cell(row, "reasons")}</td>'
            f"<td>{person(row, 'economic_buyer')}</td>"
            f"<td>{person(row, 'champion')}</td>"
            "</tr>"
        )
    header = "".join(f"<th{' class=num' if h in ('#', 'Score') else ''}>{h}</th>" for h in (
        "#", "Account", "Score", "Tier", "Motion", "Why it scored", "Economic buyer", "Champion"))
    return (
        heading
        + '<p class="how"><span>How to read this:</span> the accounts most ready for a sales conversation, with the '
        "reasons the score gives and the people to talk to: the economic buyer signs, the champion pulls the team "
        "in. Hover a motion for why the account got it.</p>"
        + f'<div class="table-wrap"><table class="accounts"><thead><tr>{header}</tr></thead>'
        + f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _footer(inputs: ReportInputs, generated_at: datetime) -> str:
    used = [t for t in INPUT_TABLES if t not in inputs.missing]
    missing = f" Not there yet: {', '.join(inputs.missing)}." if inputs.missing else ""
    return (
        f'<footer><p>Built from the warehouse tables {_e(", ".join(used) or "(none)")}.{_e(missing)} Written by '
        "the Dagster asset <code>pls_report</code> of pls-pipelines on every run; the same figures are in its "
        f"metadata in the Dagster UI. Generated {_e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))}.</p></footer>"
    )


# --- small readers ----------------------------------------------------------------------------------------------


def _metric_values(metrics: pd.DataFrame | None) -> dict[str, float]:
    if metrics is None or metrics.empty or not {"metric", "value"} <= set(metrics.columns):
        return {}
    values = pd.to_numeric(metrics["value"], errors="coerce")
    return dict(zip(metrics["metric"].astype(str), values.astype(float), strict=True))


def _verdict(validation: pd.DataFrame | None) -> str:
    if validation is None or not {"kind", "verdict"} <= set(validation.columns):
        return ""
    verdicts = validation.loc[validation["kind"] == "score", "verdict"].dropna()
    return str(verdicts.iloc[0]) if len(verdicts) else ""


def _validation_window(validation: pd.DataFrame | None) -> tuple[str, str]:
    if validation is None or not {"as_of_date", "horizon_days"} <= set(validation.columns):
        return "", ""
    row = validation.dropna(subset=["as_of_date"]).head(1)
    if row.empty:
        return "", ""
    horizon = row["horizon_days"].iloc[0]
    return _date(row["as_of_date"].iloc[0]), "" if _missing(horizon) else f"{int(horizon)}"


def _history_span(daily: pd.DataFrame | None) -> tuple[str, str]:
    if daily is None or daily.empty:
        return "", ""
    dates = pd.to_datetime(daily["snapshot_date"], errors="coerce").dropna()
    return (_date(dates.min()), _date(dates.max())) if len(dates) else ("", "")


def _as_of(inputs: ReportInputs) -> str:
    for frame in (inputs.routing, inputs.metrics):
        if frame is not None and "as_of_date" in frame.columns:
            dates = pd.to_datetime(frame["as_of_date"], errors="coerce").dropna()
            if len(dates):
                return _date(dates.max())
    return ""


def _model_versions(routing: pd.DataFrame | None, model: str) -> list[tuple[str, str]]:
    """(model, version) pairs of the scores in routing, the new-business model first."""
    if routing is None or not {"model", "model_version"} <= set(routing.columns):
        return []
    pairs = routing[["model", "model_version"]].dropna().drop_duplicates()
    return sorted(((str(m), str(v)) for m, v in pairs.itertuples(index=False)), key=lambda p: (p[0] != model, p))


def _date(value: object) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d")


CSS = """
:root { --ink: #0f172a; --text: #1e293b; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --card: #ffffff;
  --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 28px 28px 40px; }
h1 { margin: 0 0 4px; font-size: 28px; color: var(--ink); letter-spacing: -0.01em; }
h2 { margin: 34px 0 12px; font-size: 19px; color: var(--ink); }
h3 { margin: 0 0 6px; font-size: 15px; color: var(--ink); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef2f7; padding: 1px 5px;
  border-radius: 4px; }
.lede { margin: 0; color: var(--muted); }
.facts { margin: 8px 0 0; font-size: 14px; }
.verdict { margin: 20px 0 0; padding: 12px 16px; background: #eff6ff; border-left: 4px solid var(--accent);
  border-radius: 6px; }
.verdict span { font-weight: 600; color: var(--ink); margin-right: 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card-label { font-size: 13px; color: var(--muted); }
.card-value { font-size: 26px; font-weight: 650; color: var(--ink); margin: 2px 0; font-variant-numeric: tabular-nums; }
.card-value.na { color: #94a3b8; }
.card-detail { font-size: 12px; color: var(--muted); line-height: 1.35; display: -webkit-box;
  -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 10px;
  min-width: 0; }
.how { margin: 8px 0 0; font-size: 13px; color: var(--muted); }
.how span { font-weight: 600; color: var(--text); }
.no-data { padding: 28px 16px; text-align: center; color: var(--muted); background: #f1f5f9; border-radius: 8px;
  border: 1px dashed #cbd5e1; }
.no-data strong { color: var(--text); }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  margin-top: 10px; }
table.accounts { border-collapse: collapse; width: 100%; font-size: 13.5px; }
.accounts th { text-align: left; font-weight: 600; color: var(--muted); background: #f8fafc; padding: 9px 10px;
  border-bottom: 1px solid var(--line); white-space: nowrap; }
.accounts td { padding: 9px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
.accounts tr:last-child td { border-bottom: 0; }
.accounts .num { text-align: right; font-variant-numeric: tabular-nums; }
.accounts .score { font-weight: 650; color: var(--ink); font-size: 15px; }
.accounts .account { font-weight: 600; color: var(--ink); min-width: 150px; }
.accounts .reasons { min-width: 280px; max-width: 460px; color: var(--text); }
.sub { font-weight: 400; font-size: 12px; color: var(--muted); }
.muted { color: var(--muted); }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600;
  white-space: nowrap; background: #e2e8f0; color: #334155; }
.tier-sales, .motion-sales { background: #dbeafe; color: #1e3a8a; }
.tier-success, .motion-success { background: #ccfbf1; color: #115e59; }
.motion-abm { background: #ede9fe; color: #5b21b6; }
.motion-expansion { background: #dcfce7; color: #166534; }
.motion-churn_risk { background: #fee2e2; color: #991b1b; }
footer { margin-top: 36px; padding-top: 14px; border-top: 1px solid var(--line); font-size: 13px;
  color: var(--muted); }
"""
