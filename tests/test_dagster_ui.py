"""The Dagster UI shows the real graph: dagster-webserver on 127.0.0.1, asked through its GraphQL API.

One webserver serves the whole module (it takes about 10 s to boot); its instance and PLS_HOME are temporary, so
the schedule states are the code's defaults. The field names were checked against dagster-webserver 1.13 by
introspection; a renamed field fails with GraphQL's own "Cannot query field ..." message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import pytest

from pls_pipelines.devtools import dagster_webserver, graphql

ASSET_GRAPH_QUERY = """
query PlsAssetGraph {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    hasAssetChecks
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""

AUTOMATION_QUERY = """
query PlsAutomation {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        schedules { name pipelineName defaultStatus scheduleState { status } }
        sensors { name sensorState { status } }
      }
    }
    ... on PythonError { message }
  }
}
"""

PIPELINE_GROUPS = {"ingest", "identity", "rollups", "scoring", "buyers", "routing", "crm_sync", "metrics"}
BLOCKING_CHECKS = {"pqa_scores_valid", "account_routing_valid", "crm_sync_guard"}


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dagster_webserver(pls_home=tmp_path_factory.mktemp("pls_home")) as url:
        yield url


@pytest.fixture(scope="module")
def asset_nodes(ui_url: str) -> dict[str, dict]:
    nodes = graphql(ui_url, ASSET_GRAPH_QUERY)["assetNodes"]
    return {_key(node["assetKey"]): node for node in nodes}


@pytest.fixture(scope="module")
def repository(ui_url: str) -> dict:
    answer = graphql(ui_url, AUTOMATION_QUERY)["repositoriesOrError"]
    assert answer["__typename"] == "RepositoryConnection", answer
    (repo,) = [r for r in answer["nodes"] if r["location"]["name"] == "pls_pipelines"]
    return repo


def _key(asset_key: dict) -> str:
    return "/".join(asset_key["path"])


def _downstream(nodes: dict[str, dict]) -> dict[str, set[str]]:
    children: dict[str, set[str]] = {key: set() for key in nodes}
    for key, node in nodes.items():
        for parent in node["dependencyKeys"]:
            children.setdefault(_key(parent), set()).add(key)
    return children


def _path(children: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A shortest directed path start -> goal, walking from each asset to the assets that depend on it."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current == goal:
            path = [current]
            while (previous := came_from[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for child in sorted(children.get(current, ())):
            if child not in came_from:
                came_from[child] = current
                queue.append(child)
    return None


def test_the_ui_graph_is_the_code_graph(asset_nodes):
    """Every asset and edge of Definitions reaches the UI, and nothing else: the lineage RevOps reads is the code."""
    from pls_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    code_edges = {(parent.to_user_string(), key.to_user_string())
                  for key in graph.get_all_asset_keys() for parent in graph.get(key).parent_keys}
    ui_edges = {(_key(parent), key) for key, node in asset_nodes.items() for parent in node["dependencyKeys"]}
    assert set(asset_nodes) == {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert ui_edges == code_edges


def test_every_pipeline_group_is_in_the_ui(asset_nodes):
    groups = {node["groupName"] for node in asset_nodes.values()}
    assert groups >= PIPELINE_GROUPS, f"missing groups: {sorted(PIPELINE_GROUPS - groups)}"
    ungrouped = sorted(key for key, node in asset_nodes.items() if node["groupName"] == "default")
    assert not ungrouped, f"assets without a group_name: {ungrouped}"


@pytest.mark.parametrize("sync", ["crm_company_sync", "crm_contact_sync"])
def test_lineage_runs_from_usage_events_to_the_crm_sync(asset_nodes, sync):
    children = _downstream(asset_nodes)
    path = _path(children, "usage_events", sync)
    assert path is not None, f"the UI shows no path from usage_events to {sync}"
    # the scores and the routing sit between usage and the CRM, whichever way the path goes
    assert {"scoring", "routing"} <= set(_groups_between(asset_nodes, children, "usage_events", sync)), path
    # and the graph goes on to the pls_* fields in the CRM, from the product's event export
    sink = "crm/companies_pls_fields" if sync == "crm_company_sync" else "crm/contacts_pls_fields"
    assert _path(children, "product/events", sink) is not None


def _groups_between(nodes: dict[str, dict], children: dict[str, set[str]], start: str, goal: str) -> set[str]:
    """Groups of every asset on some path start -> goal: downstream of start and upstream of goal."""
    below = set(_reachable(children, start))
    parents = {key: {_key(p) for p in node["dependencyKeys"]} for key, node in nodes.items()}
    above = set(_reachable(parents, goal))
    return {nodes[key]["groupName"] for key in below & above}


def _reachable(edges: dict[str, set[str]], start: str) -> Iterator[str]:
    seen, queue = {start}, deque([start])
    while queue:
        current = queue.popleft()
        yield current
        for nxt in edges.get(current, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)


def test_the_daily_schedule_is_running_by_default(repository):
    schedules = {s["name"]: s for s in repository["schedules"]}
    assert "pls_daily_schedule" in schedules, sorted(schedules)
    daily = schedules["pls_daily_schedule"]
    assert daily["pipelineName"] == "pls_daily_job"
    assert daily["defaultStatus"] == "RUNNING"
    # a fresh instance has stored no state, so this is what a first deploy gets
    assert daily["scheduleState"]["status"] == "RUNNING"


def test_the_checks_that_guard_the_crm_are_in_the_ui_and_blocking(asset_nodes):
    checks: dict[str, tuple[str, bool]] = {}
    for key, node in asset_nodes.items():
        answer = node["assetChecksOrError"]
        assert answer["__typename"] == "AssetChecks", (key, answer)
        if answer["checks"]:
            assert node["hasAssetChecks"], key
        for check in answer["checks"]:
            checks[check["name"]] = (key, check["blocking"])
    missing = BLOCKING_CHECKS - set(checks)
    assert not missing, f"checks missing from the UI: {sorted(missing)}"
    not_blocking = sorted(f"{name} on {checks[name][0]}" for name in BLOCKING_CHECKS if not checks[name][1])
    assert not not_blocking, f"these checks must block the CRM sync: {not_blocking}"
    assert checks["pqa_scores_valid"][0] == "pqa_scores"
