"""The report's charts: warehouse tables (as DataFrames) in, plotly figures out. No I/O, no Dagster.

One function per chart; each answers one question a RevOps lead asks, said in its docstring. A function returns
None when its input holds nothing to draw, and the page shows "no data yet" in the chart's place.

Colours stay the same across charts: a tier or a motion has one colour everywhere in the report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

DEFAULT_TIERS = ("sales", "success", "self_serve")  # highest first, as in scoring_models.yaml
TIER_COLOURS = {"sales": "#1d4ed8", "success": "#0d9488", "self_serve": "#a3acb9"}
MOTION_COLOURS = {
    "sales": "#1d4ed8",
    "success": "#0d9488",
    "abm": "#7c3aed",
    "expansion": "#16a34a",
    "churn_risk": "#dc2626",
    "self_serve": "#a3acb9",
}
MOTION_ORDER = ("sales", "success", "abm", "expansion", "churn_risk", "self_serve")
SEGMENT_ORDER = ("smb", "mid_market", "enterprise", "unknown")
_EXTRA_COLOURS = ("#ea580c", "#0891b2", "#be185d", "#65a30d", "#4f46e5", "#ca8a04")
ACCENT = "#1d4ed8"
MUTED = "#64748b"
HEIGHT = 360

_LABELS = {
    "sales": "Sales",
    "success": "Success",
    "self_serve": "Self-serve",
    "abm": "ABM",
    "expansion": "Expansion",
    "churn_risk": "Churn risk",
    "smb": "SMB",
    "mid_market": "Mid-market",
    "enterprise": "Enterprise",
    "unknown": "Unknown size",
    "all": "All accounts",
}


def label(key: object) -> str:
    """'self_serve' -> 'Self-serve', 'mid_market' -> 'Mid-market'; other keys in plain words."""
    text = str(key)
    return _LABELS.get(text, text.replace("_", " ").capitalize())


def _colour(key: str, palette: dict[str, str], index: int) -> str:
    return palette.get(key, _EXTRA_COLOURS[index % len(_EXTRA_COLOURS)])


def _layout(fig: go.Figure, *, legend: bool = True, **kwargs: object) -> go.Figure:
    layout: dict[str, object] = {
        "template": "plotly_white",
        "height": HEIGHT,
        "margin": {"l": 56, "r": 16, "t": 36 if legend else 16, "b": 48},
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13,
                 "color": "#1e293b"},
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0, "title": None,
                   "traceorder": "normal"},
        "hoverlabel": {"font": {"size": 12}},
        "bargap": 0.15,
    }
    fig.update_layout(**{**layout, **kwargs})
    return fig


def _present(frame: pd.DataFrame | None, *columns: str) -> bool:
    return frame is not None and not frame.empty and all(c in frame.columns for c in columns)


def tier_order(tiers: Sequence[str] | None, present: pd.Series) -> list[str]:
    """The model's tiers, highest first, then any tier in the data the model does not name."""
    ordered = list(tiers or DEFAULT_TIERS)
    return ordered + sorted({str(t) for t in present.dropna().unique()} - set(ordered))


def prospects(routing: pd.DataFrame | None, model: str) -> pd.DataFrame | None:
    """The rows of `model` (the new-business model) when the table says which model scored each account."""
    if routing is None or "model" not in routing.columns:
        return routing
    return routing[routing["model"] == model]


# --- the charts ---------------------------------------------------------------------------------------------


def score_distribution(
    routing: pd.DataFrame | None, tiers: Sequence[str] | None = None, thresholds: dict[str, int] | None = None
) -> go.Figure | None:
    """How are the accounts' scores spread, and how many sit just under a tier threshold?

    A histogram of today's scores in bins of 5 points, stacked by tier, with a dashed line at each tier's
    threshold (the model's default; segment rules can move it, which is why tiers overlap near a line).
    """
    if not _present(routing, "score", "tier"):
        return None
    rows = routing.dropna(subset=["score"])
    if rows.empty:
        return None
    fig = go.Figure()
    for i, tier in enumerate(tier_order(tiers, rows["tier"])):
        scores = rows.loc[rows["tier"] == tier, "score"].astype(float)
        if scores.empty:
            continue
        fig.add_trace(go.Histogram(
            x=scores.to_numpy(), name=label(tier), marker_color=_colour(tier, TIER_COLOURS, i),
            xbins={"start": 0, "end": 100, "size": 5},
            hovertemplate=f"{label(tier)}<br>score %{{x}}<br>%{{y:,}} accounts<extra></extra>",
        ))
    for tier, minimum in (thresholds or {}).items():
        if minimum > 0:
            fig.add_vline(x=minimum, line_dash="dash", line_color=MUTED, line_width=1,
                          annotation_text=f"{label(tier)} {minimum}+", annotation_position="top left",
                          annotation_font={"size": 11, "color": MUTED})
    return _layout(fig, barmode="stack", xaxis={"title": "Score", "range": [0, 101], "dtick": 10},
                   yaxis={"title": "Accounts"})


def tier_funnel(routing: pd.DataFrame | None, tiers: Sequence[str] | None = None) -> go.Figure | None:
    """Of the accounts the product scores, how many reach each tier, become PQAs, name a buyer and go to sales?

    A funnel drawn as left-aligned bars (readable even when the last stage is a twentieth of the first): all
    scored accounts, then each tier or higher (cumulative, highest last), then PQAs with an economic buyer
    named, then PQAs routed to the sales motion. The percentages are of all scored accounts.
    """
    if not _present(routing, "tier"):
        return None
    order = tier_order(tiers, routing["tier"])
    stages: list[tuple[str, int, str]] = [("Prospects scored", len(routing), MUTED)]
    for i in range(len(order) - 2, -1, -1):  # every tier but the lowest, cumulative from the lowest up
        reached = routing["tier"].isin(order[: i + 1])
        name = label(order[i]) + (" tier" if i == 0 else " tier or higher")
        stages.append((name, int(reached.sum()), _colour(order[i], TIER_COLOURS, i)))
    if "is_pqa" in routing.columns:
        pqa = routing["is_pqa"].fillna(False).astype(bool)
        top = routing["tier"] == order[0]
        if pqa.equals(top):
            stages[-1] = (stages[-1][0] + " (PQA)", stages[-1][1], stages[-1][2])
        else:
            stages.append(("PQA", int(pqa.sum()), ACCENT))
        if "economic_buyer_name" in routing.columns:
            buyer = routing["economic_buyer_name"].fillna("").astype(str).str.strip() != ""
            stages.append(("PQA with an economic buyer", int((pqa & buyer).sum()), "#4338ca"))
        if "motion" in routing.columns:
            stages.append(("PQA routed to sales", int((pqa & (routing["motion"] == "sales")).sum()), "#312e81"))
    total = stages[0][1]
    if not total:
        return None
    counts = [s[1] for s in stages]
    fig = go.Figure(go.Bar(
        y=[s[0] for s in stages], x=counts, orientation="h", marker_color=[s[2] for s in stages],
        text=[f"{n:,}  ({n / total:.0%})" if n / total >= 0.01 or not n else f"{n:,}  ({n / total:.1%})"
              for n in counts],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:,} accounts<extra></extra>",
    ))
    return _layout(fig, legend=False, margin={"l": 190, "r": 24, "t": 16, "b": 40},
                   xaxis={"title": "Accounts", "range": [0, total * 1.35]},
                   yaxis={"autorange": "reversed", "title": None, "ticksuffix": "  "}, bargap=0.25)


def pqas_per_month(breakdowns: pd.DataFrame | None) -> go.Figure | None:
    """Is the product creating more product-qualified accounts month after month?

    Bars of the accounts that first became a PQA in each month (pls_metric_breakdowns, metric pqas_created).
    """
    rows = _breakdown(breakdowns, "pqas_created")
    if rows is None:
        return None
    months = pd.PeriodIndex(rows["key"].astype(str), freq="M")
    rows = rows.assign(month=months).sort_values("month")
    fig = go.Figure(go.Bar(
        x=[m.strftime("%b %Y") for m in rows["month"]], y=rows["value"].to_numpy(), marker_color=ACCENT,
        text=[f"{v:,.0f}" for v in rows["value"]], textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y:,} new PQAs<extra></extra>",
    ))
    return _layout(fig, legend=False, xaxis={"title": None, "type": "category"},
                   yaxis={"title": "New PQAs", "rangemode": "tozero"})


def time_to_pqa(breakdowns: pd.DataFrame | None, median: float | None = None, p75: float | None = None
                ) -> go.Figure | None:
    """How long after signing up does an account become a PQA?

    A histogram of each account's days from its first workspace signup to its first day as a PQA
    (pls_metric_breakdowns, metric time_to_pqa_days), with the median and the 75th percentile marked.
    """
    rows = _breakdown(breakdowns, "time_to_pqa_days")
    if rows is None:
        return None
    days = rows["value"].astype(float)
    median = float(days.median()) if median is None or np.isnan(median) else median
    p75 = float(days.quantile(0.75)) if p75 is None or np.isnan(p75) else p75
    fig = go.Figure(go.Histogram(
        x=days.to_numpy(), marker_color=ACCENT, nbinsx=min(30, max(5, int(days.nunique()))),
        hovertemplate="%{x} days<br>%{y:,} accounts<extra></extra>",
    ))
    for value, name, position in ((median, "median", "top right"), (p75, "75th pct", "top right")):
        fig.add_vline(x=value, line_dash="dash", line_color="#0f172a" if name == "median" else MUTED, line_width=1.5,
                      annotation_text=f"{name} {value:,.0f} d", annotation_position=position,
                      annotation_font={"size": 11})
    return _layout(fig, legend=False, xaxis={"title": "Days from signup to PQA", "rangemode": "tozero"},
                   yaxis={"title": "Accounts"})


def conversion_by_tier(validation: pd.DataFrame | None, tiers: Sequence[str] | None = None) -> go.Figure | None:
    """Do higher tiers really close more deals? (Is the score worth acting on?)

    The point-in-time backtest (score_validation): the share of each tier's accounts that closed-won within the
    horizon, with the lift over the average as a label, a 95% interval when the backtest gives one, and the
    average of all accounts as a dashed line. A sales tier far above the line means the score earns its keep.
    """
    if not _present(validation, "kind", "name", "conversion_rate"):
        return None
    rows = validation[validation["kind"] == "tier"].dropna(subset=["conversion_rate"])
    if rows.empty:
        return None
    order = tier_order(tiers, rows["name"])
    rows = rows.set_index(rows["name"].astype(str)).reindex([t for t in order if t in set(rows["name"])])
    rate = rows["conversion_rate"].astype(float)
    overall = validation[validation["kind"] == "score"]["conversion_rate"].dropna()
    base = float(overall.iloc[0]) if len(overall) else float(
        (rows["won"].sum() / rows["accounts"].sum()) if _present(rows, "won", "accounts") else np.nan)
    lift = rows["lift"].astype(float) if "lift" in rows.columns else rate / base
    text = [f"<b>{r:.1%}</b>" + (f"<br>{lf:.1f}x average" if lf == lf else "")
            for r, lf in zip(rate, lift, strict=True)]
    error = None
    if {"lift_ci_low", "lift_ci_high"} <= set(rows.columns) and base == base:
        low = (rows["lift_ci_low"].astype(float) * base).to_numpy()
        high = (rows["lift_ci_high"].astype(float) * base).to_numpy()
        if not np.isnan(low).all():
            error = {"type": "data", "symmetric": False, "array": np.nan_to_num(high - rate.to_numpy()),
                     "arrayminus": np.nan_to_num(rate.to_numpy() - low), "color": "#475569", "thickness": 1.2}
    accounts = rows["accounts"].fillna(0).astype(int) if "accounts" in rows.columns else pd.Series(0, rows.index)
    won = rows["won"].fillna(0).astype(int) if "won" in rows.columns else pd.Series(0, rows.index)
    names = [label(t) for t in rows.index]
    fig = go.Figure(go.Bar(
        x=names, y=rate.to_numpy(), error_y=error,
        marker_color=[_colour(t, TIER_COLOURS, i) for i, t in enumerate(rows.index)],
        customdata=np.stack([accounts.to_numpy(), won.to_numpy()], axis=-1),
        hovertemplate="%{x}: %{y:.1%} closed-won<br>%{customdata[1]:,} of %{customdata[0]:,} accounts<extra></extra>",
    ))
    tops = rate.to_numpy() + (error["array"] if error else 0)
    for name, words in zip(names, text, strict=True):  # a row above the plot: never across a whisker or line
        fig.add_annotation(x=name, y=1, yref="paper", text=words, showarrow=False, yanchor="bottom", yshift=2,
                           font={"size": 12, "color": "#0f172a"})
    if base == base:
        fig.add_hline(y=base, line_dash="dash", line_color="#0f172a", line_width=1)
        fig.add_annotation(x=1, xref="paper", xanchor="left", xshift=6, y=base, text=f"average<br>{base:.1%}",
                           showarrow=False, align="left", font={"size": 11, "color": MUTED})
    return _layout(fig, legend=False, xaxis={"title": None}, margin={"l": 56, "r": 70, "t": 48, "b": 40},
                   yaxis={"title": "Closed-won within the horizon", "tickformat": ".0%", "rangemode": "tozero",
                          "range": [0, float(np.nanmax(tops)) * 1.08]})


def motions_by_segment(routing: pd.DataFrame | None) -> go.Figure | None:
    """Which motion does each company size get: do SMBs stay self-serve and enterprises get sellers?

    Horizontal bars, one per segment (by employee count; unknown when the CRM has no size), split into the
    share of its accounts routed to each motion; the segment's account count is in its label.
    """
    if not _present(routing, "motion"):
        return None
    segment = routing["segment"].fillna("unknown").astype(str) if "segment" in routing.columns else pd.Series(
        "unknown", index=routing.index)
    counts = pd.crosstab(segment, routing["motion"].fillna("unknown").astype(str))
    segments = [s for s in SEGMENT_ORDER if s in counts.index] + sorted(set(counts.index) - set(SEGMENT_ORDER))
    motions = [m for m in MOTION_ORDER if m in counts.columns] + sorted(set(counts.columns) - set(MOTION_ORDER))
    counts = counts.reindex(index=segments, columns=motions).fillna(0)
    totals = counts.sum(axis=1)
    names = [f"{label(s)}<br><span style='font-size:11px;color:{MUTED}'>{int(totals[s]):,} accounts</span>"
             for s in counts.index]
    fig = go.Figure()
    for i, motion in enumerate(motions):
        share = (counts[motion] / totals.where(totals > 0)).fillna(0)
        fig.add_trace(go.Bar(
            y=names, x=share.to_numpy(), orientation="h", name=label(motion),
            marker_color=_colour(motion, MOTION_COLOURS, i), customdata=counts[motion].to_numpy(),
            texttemplate="%{x:.0%}", textposition="inside", insidetextanchor="middle", textangle=0,
            hovertemplate=f"{label(motion)}: %{{customdata:,}} accounts (%{{x:.0%}})<extra></extra>",
        ))
    return _layout(fig, barmode="stack", xaxis={"title": "Share of the segment's accounts", "tickformat": ".0%",
                                                "range": [0, 1.005], "dtick": 0.2},
                   yaxis={"title": None, "autorange": "reversed"}, margin={"l": 104, "r": 16, "t": 56, "b": 48},
                   uniformtext={"minsize": 10, "mode": "hide"})


def pqas_per_day(daily: pd.DataFrame | None, tiers: Sequence[str] | None = None) -> go.Figure | None:
    """Is the number of accounts in the top tiers growing or shrinking, day by day?

    Lines of the accounts in each tier but the lowest on every day of the score history (pqa_score_history,
    new-business model). `daily`: snapshot_date, tier, accounts.
    """
    if not _present(daily, "snapshot_date", "tier", "accounts"):
        return None
    order = tier_order(tiers, daily["tier"])
    table = daily.pivot_table(index="snapshot_date", columns="tier", values="accounts", aggfunc="sum").fillna(0)
    table = table.sort_index()
    shown = [t for t in order[:-1] if t in table.columns] if len(order) > 1 else list(table.columns)
    if table.empty or not shown:
        return None
    dates = pd.to_datetime(table.index)
    fig = go.Figure()
    for i, tier in enumerate(shown):
        fig.add_trace(go.Scatter(
            x=dates, y=table[tier].to_numpy(), mode="lines", name=label(tier),
            line={"color": _colour(tier, TIER_COLOURS, i), "width": 2.5},
            hovertemplate=f"%{{x|%d %b %Y}}: %{{y:,}} accounts in {label(tier).lower()}<extra></extra>",
        ))
    return _layout(fig, xaxis={"title": None}, yaxis={"title": "Accounts", "rangemode": "tozero"},
                   hovermode="x unified")


def feature_adoption(breakdowns: pd.DataFrame | None) -> go.Figure | None:
    """Which features do the accounts of each size actually use?

    A heatmap of the share of accounts using each feature in the last 28 days, per segment
    (pls_metric_breakdowns, metric feature_adoption), most adopted feature at the top.
    """
    rows = _breakdown(breakdowns, "feature_adoption")
    if rows is None:
        return None
    table = rows.pivot_table(index="key", columns="dimension", values="value", aggfunc="mean")
    segments = [s for s in ("all", *SEGMENT_ORDER) if s in table.columns]
    segments += sorted(set(table.columns) - set(segments))
    sort_by = "all" if "all" in table.columns else segments[0]
    table = table.reindex(columns=segments).sort_values(sort_by, ascending=True)
    values = table.to_numpy(dtype=float)
    short = {"all": "All", "unknown": "Unknown"}
    fig = go.Figure(go.Heatmap(
        z=values, x=[short.get(s, label(s)) for s in table.columns], y=[str(k).replace("_", " ") for k in table.index],
        colorscale=[[0, "#f1f5f9"], [1, ACCENT]], zmin=0, zmax=1,
        text=[[("" if np.isnan(v) else f"{v:.0%}") for v in row] for row in values], texttemplate="%{text}",
        showscale=False,  # every cell carries its number
        hovertemplate="%{y}, %{x}: %{z:.0%} of accounts<extra></extra>", xgap=2, ygap=2,
    ))
    height = max(HEIGHT, 90 + 26 * len(table.index))
    return _layout(fig, legend=False, height=height, margin={"l": 130, "r": 16, "t": 40, "b": 16},
                   xaxis={"side": "top", "tickangle": 0})


def _breakdown(breakdowns: pd.DataFrame | None, metric: str) -> pd.DataFrame | None:
    if not _present(breakdowns, "metric", "key", "value"):
        return None
    rows = breakdowns[breakdowns["metric"] == metric].copy()
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.dropna(subset=["value"])
    return None if rows.empty else rows
