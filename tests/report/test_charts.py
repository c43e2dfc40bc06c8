"""The report's charts: small hand-built frames in, the traces and values a reader would see out."""

import inspect

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pls_pipelines.report import charts
from tests.report import sample_tables

CHART_FUNCTIONS = [charts.score_distribution, charts.tier_funnel, charts.pqas_per_month, charts.time_to_pqa,
                   charts.conversion_by_tier, charts.motions_by_segment, charts.pqas_per_day,
                   charts.feature_adoption]


def values(array) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(array).tolist()]


@pytest.mark.parametrize("chart", CHART_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_chart_says_which_question_it_answers(chart):
    first_line = inspect.getdoc(chart).splitlines()[0]
    assert "?" in first_line, first_line


@pytest.mark.parametrize("chart", CHART_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("frame", [None, pd.DataFrame(), pd.DataFrame({"unrelated": [1, 2]})],
                         ids=["missing", "empty", "other-columns"])
def test_no_data_gives_no_figure(chart, frame):
    assert chart(frame) is None


def test_score_distribution_stacks_the_tiers_with_threshold_lines():
    prospects = charts.prospects(sample_tables.routing(), "pqa")
    fig = charts.score_distribution(prospects, ["sales", "success", "self_serve"], {"sales": 80, "success": 60})
    assert [t.name for t in fig.data] == ["Sales", "Success", "Self-serve"]
    assert all(isinstance(t, go.Histogram) for t in fig.data)
    assert sorted(values(fig.data[0].x)) == [84, 91, 98]
    assert sum(len(t.x) for t in fig.data) == len(prospects) == 7  # expansion rows are not prospects
    assert fig.layout.barmode == "stack"
    assert sorted(shape.x0 for shape in fig.layout.shapes) == [60, 80]


def test_tier_funnel_counts_each_stage_of_the_prospects():
    prospects = charts.prospects(sample_tables.routing(), "pqa")
    fig = charts.tier_funnel(prospects, ["sales", "success", "self_serve"])
    (bars,) = fig.data
    assert values(bars.y) == ["Prospects scored", "Success tier or higher", "Sales tier (PQA)",
                              "PQA with an economic buyer", "PQA routed to sales"]
    assert values(bars.x) == [7, 5, 3, 2, 2]
    assert values(bars.text)[0] == "7  (100%)"


def test_tier_funnel_adds_a_pqa_stage_when_the_threshold_is_not_the_top_tier():
    frame = pd.DataFrame({"tier": ["sales", "success", "success", "self_serve"], "is_pqa": [True, True, False, False]})
    bars = charts.tier_funnel(frame).data[0]
    assert values(bars.y) == ["Prospects scored", "Success tier or higher", "Sales tier", "PQA"]
    assert values(bars.x) == [4, 3, 1, 2]


def test_pqas_per_month_in_calendar_order():
    (bars,) = charts.pqas_per_month(sample_tables.breakdowns()).data
    assert values(bars.x) == ["Sep 2026", "Oct 2026", "Nov 2026"]
    assert values(bars.y) == [5, 9, 12]


def test_time_to_pqa_histogram_marks_the_median_given_by_pls_metrics():
    fig = charts.time_to_pqa(sample_tables.breakdowns(), median=30.0, p75=np.nan)
    assert sorted(values(fig.data[0].x)) == [3, 10, 34, 34, 90]
    lines = sorted(shape.x0 for shape in fig.layout.shapes)
    assert lines == [30.0, 34.0]  # the given median; p75 computed from the accounts when not given


def test_conversion_by_tier_in_tier_order_with_lift_labels_and_the_average():
    fig = charts.conversion_by_tier(sample_tables.validation(), ["sales", "success", "self_serve"])
    (bars,) = fig.data
    assert values(bars.x) == ["Sales", "Success", "Self-serve"]
    assert values(bars.y) == pytest.approx([0.225, 0.1167, 0.0467])
    texts = [a.text for a in fig.layout.annotations]
    assert any("3.0x average" in t and "22.5%" in t for t in texts)
    assert any("average<br>7.5%" in t for t in texts)
    assert fig.layout.shapes[0].y0 == pytest.approx(0.075)
    # the 95% interval of the lift, turned into conversion: sales 2.0x..4.3x of 7.5%
    assert bars.error_y.arrayminus[0] == pytest.approx(0.225 - 0.15)
    assert bars.error_y.array[0] == pytest.approx(0.3225 - 0.225)


def test_motions_by_segment_shows_each_segments_split_with_unknown_sizes_last():
    fig = charts.motions_by_segment(sample_tables.routing())
    assert [t.name for t in fig.data] == ["Sales", "Success", "ABM", "Expansion", "Churn risk", "Self-serve"]
    segments = [y.split("<br>")[0] for y in fig.data[0].y]
    assert segments == ["SMB", "Mid-market", "Enterprise", "Unknown size"]
    shares = np.sum([np.asarray(t.x, dtype=float) for t in fig.data], axis=0)
    assert shares == pytest.approx([1.0, 1.0, 1.0, 1.0])
    abm = next(t for t in fig.data if t.name == "ABM")
    assert values(abm.customdata) == [0, 1, 1, 0]  # account counts behind the shares, for the hover


def test_pqas_per_day_draws_every_tier_but_the_lowest():
    fig = charts.pqas_per_day(sample_tables.daily_tiers(), ["sales", "success", "self_serve"])
    assert [t.name for t in fig.data] == ["Sales", "Success"]
    assert len(fig.data[0].x) == 5
    assert values(fig.data[0].y)[-1] == 3  # three prospects in sales on the last day


def test_feature_adoption_heatmap_has_a_row_per_feature_and_a_column_per_segment():
    (heat,) = charts.feature_adoption(sample_tables.breakdowns()).data
    assert values(heat.x) == ["All", "SMB", "Enterprise"]
    assert values(heat.y) == ["sso", "dashboards"]  # plotly draws rows bottom-up: most adopted on top
    assert np.asarray(heat.z, dtype=float)[1].tolist() == pytest.approx([0.5, 0.3, 0.8])


def test_labels_read_as_words():
    assert charts.label("self_serve") == "Self-serve"
    assert charts.label("churn_risk") == "Churn risk"
    assert charts.label("some_new_motion") == "Some new motion"
