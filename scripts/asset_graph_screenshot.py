"""Screenshot the asset graph as the Dagster UI draws it: start dagster-webserver on 127.0.0.1, open its global
asset lineage page (/asset-groups) in headless Chromium, wait for the graph, save a PNG.

    .venv/bin/python scripts/asset_graph_screenshot.py                 # -> docs/asset_graph.png (the README's)
    .venv/bin/python scripts/asset_graph_screenshot.py --expand scoring,routing,crm_sync --out /tmp/graph.png
    .venv/bin/python scripts/asset_graph_screenshot.py --dagster-home .pls/dagster_home   # with make run's status

The picture is the UI's own view of the code location: groups as boxes with their asset counts (the UI's
default), the groups named by --expand opened to their assets, the flow top to bottom. Before taking it the script
checks the page against the GraphQL API of the same server: every group drawn, every opened group's assets drawn,
edges drawn. With --select auto (the default) external assets that fold the group graph into a cycle - CRM fields
the sync writes, kept in the same group as the sources it reads - are filtered out and drawn as links, because
the UI's layout cannot order a cycle of groups and would put the end of the flow first.

Needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver) and selenium (the test
extra). Exits 1 when the graph did not render or does not match the API, 2 when the browser is missing.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

from pls_pipelines.devtools import GraphQLError, WebserverError, dagster_webserver, graphql
from pls_pipelines.report.browser_check import CHROMEDRIVER, CHROMIUM, chromium_missing, headless_chrome

ASSETS_QUERY = """
query AssetGraphForScreenshot {
  assetNodes { assetKey { path } dependencyKeys { path } groupName isExecutable }
}
"""

# What the page shows: its groups (collapsed: name + asset count; opened: name), asset nodes, link nodes to
# filtered-out assets, and how many edges. Collapsed groups are foreignObject.group; opened groups draw their
# title as a foreignObject holding only the name.
_RENDERED_JS = """
const svg = document.querySelector('svg[class*=svgContainer]');
if (!svg) return null;
const texts = Array.from(svg.querySelectorAll('foreignObject'))
  .map(f => ({group: f.classList.contains('group'), text: (f.textContent || '').trim()}))
  .filter(t => t.text);
const edges = svg.querySelectorAll(':scope > path, :scope > g > path').length;
return {width: +svg.getAttribute('width'), height: +svg.getAttribute('height'), texts: texts, edges: edges,
        busy: !!document.querySelector('[class*=spinner], [class*=Spinner]')
              || texts.some(t => t.text.includes('fetching'))};
"""

_HIDE_SIDEBAR_JS = """
const icon = document.querySelector('[class*=SplitPanelContainer] button [aria-label=panel_show_right]');
if (!icon) return false;
icon.closest('button').click();
return true;
"""

_SKIP_NUX_JS = """
const skip = Array.from(document.querySelectorAll('[role=dialog] button, .bp5-dialog button'))
  .find(b => b.innerText.trim() === 'Skip');
if (skip) skip.click();
return !!skip;
"""

_AUTOCENTER_JS = """
const svg = document.querySelector('svg[class*=svgContainer]');
const viewport = svg.parentElement.parentElement;
viewport.dispatchEvent(new MouseEvent('dblclick', {bubbles: true, cancelable: true}));
"""

_VIEWPORT_BOX_JS = """
const svg = document.querySelector('svg[class*=svgContainer]');
const box = svg.parentElement.parentElement.getBoundingClientRect();
return {top: box.top, width: box.width};
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/asset_graph.png"), help="PNG (docs/asset_graph.png)")
    parser.add_argument("--width", type=int, default=1600, help="page width in pixels (1600); the height follows")
    parser.add_argument("--direction", choices=["vertical", "horizontal"], default="vertical",
                        help="the UI's layout direction (vertical: flow top to bottom)")
    parser.add_argument("--expand", default="crm_sync",
                        help="comma-separated groups to open to their assets, 'all' or '' (default crm_sync)")
    parser.add_argument("--select", default="auto",
                        help="asset selection typed into the UI's filter ('' for none; default auto, see above)")
    parser.add_argument("--dagster-home", type=Path, help="an existing DAGSTER_HOME (default: a fresh one)")
    parser.add_argument("--pls-home", type=Path, help="PLS_HOME for the code location (default: a fresh one)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for server and graph (120)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help=f"browser binary ({CHROMIUM})")
    parser.add_argument("--chromedriver", type=Path, default=CHROMEDRIVER, help=f"driver binary ({CHROMEDRIVER})")
    args = parser.parse_args(argv)

    why_not = chromium_missing(args.chromium, args.chromedriver)
    if why_not:
        print(f"cannot take the screenshot: {why_not}", file=sys.stderr)
        return 2

    try:
        problems = _run(args)
    except (WebserverError, GraphQLError) as exc:
        problems = [str(exc)]
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if not problems:
        print(f"screenshot: {args.out}")
    return 1 if problems else 0


def _run(args: argparse.Namespace) -> list[str]:
    with dagster_webserver(pls_home=args.pls_home, dagster_home=args.dagster_home, timeout=args.timeout) as url:
        print(f"dagster-webserver: {url}")
        nodes = graphql(url, ASSETS_QUERY)["assetNodes"]
        groups = _assets_by_group(nodes)
        expand = sorted(groups) if args.expand == "all" else [g for g in args.expand.split(",") if g]
        unknown = sorted(set(expand) - set(groups))
        if unknown:
            return [f"--expand: no such groups {unknown}; the groups are {sorted(groups)}"]
        excluded = _cycle_closing_assets(nodes) if args.select == "auto" else []
        select = " and ".join(f'not key:"{key}"' for key in excluded) if args.select == "auto" else args.select
        if excluded:
            print(f"filtered out (drawn as links): {', '.join(excluded)} - they share a group with the sources and "
                  f"would fold the group graph into a cycle")
        page = _graph_url(url, select, expand)
        print(f"page: {page}")
        # With a selection of the user's own, groups may be filtered out on purpose: only say which.
        strict = args.select in ("auto", "")
        return _screenshot(args, page, groups, expand, excluded, strict)


def _key(asset_key: dict) -> str:
    return "/".join(asset_key["path"])


def _assets_by_group(nodes: list[dict]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        groups[node["groupName"]].append(_key(node["assetKey"]))
    return dict(groups)


def _cycle_closing_assets(nodes: list[dict]) -> list[str]:
    """External assets at the end of the graph (nothing reads them) whose group also feeds the pipeline, when
    leaving them out turns a cyclic group graph acyclic: e.g. the CRM fields the sync writes, grouped with the CRM
    objects the ingest reads. Empty when the group graph has no cycle."""
    group_of = {_key(n["assetKey"]): n["groupName"] for n in nodes}
    has_children = {_key(parent) for n in nodes for parent in n["dependencyKeys"]}

    def group_edges(skip: set[str]) -> set[tuple[str, str]]:
        return {(group_of[_key(p)], n["groupName"]) for n in nodes if _key(n["assetKey"]) not in skip
                for p in n["dependencyKeys"] if group_of.get(_key(p), n["groupName"]) != n["groupName"]}

    if not _has_cycle(group_edges(set())):
        return []
    feeding_groups = {group_of[key] for key in has_children}
    sinks = sorted(key for n in nodes if not n["isExecutable"] and (key := _key(n["assetKey"])) not in has_children
                   and n["dependencyKeys"] and group_of[key] in feeding_groups)
    return sinks if sinks and not _has_cycle(group_edges(set(sinks))) else []


def _has_cycle(edges: set[tuple[str, str]]) -> bool:
    children: dict[str, set[str]] = defaultdict(set)
    for parent, child in edges:
        children[parent].add(child)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str) -> bool:
        state[node] = 1
        for child in children[node]:
            if state.get(child) == 1 or (child not in state and visit(child)):
                return True
        state[node] = 2
        return False

    return any(node not in state and visit(node) for node in list(children))


def _graph_url(base_url: str, select: str, expand: list[str]) -> str:
    """The global lineage page; `~<query>` is the UI's filter box, `expanded=` its opened groups. A group id is
    `global@global:<name>`, or `<repository>@<location>:<name>` under the UI's per-code-location grouping flag."""
    path = "/asset-groups" + (f"~{urllib.parse.quote(select, safe='')}" if select else "")
    ids = [i for g in expand for i in (f"global@global:{g}", f"__repository__@pls_pipelines:{g}")]
    return f"{base_url}{path}" + (f"?expanded={','.join(ids)}" if ids else "")


def _screenshot(args: argparse.Namespace, page: str, groups: dict[str, list[str]], expand: list[str],
                excluded: list[str], strict: bool) -> list[str]:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    chrome = headless_chrome(args.chromium, args.chromedriver, args.width)
    try:
        _set_viewport(chrome, args.width, 1000)
        # The UI keeps its view settings in localStorage: set them on the server's origin before the page loads.
        chrome.get(page.split("/asset-groups")[0] + "/server_info")
        chrome.execute_script(
            "localStorage.clear();"
            "localStorage.setItem('dagster-nav-collapsed', 'true');"  # the left navigation as icons only
            "localStorage.setItem('asset-graph-direction', JSON.stringify(arguments[0]));"
            "localStorage.setItem('asset-node-facets', '[]');"  # asset nodes show their name only
            "localStorage.setItem('hideEdgesToNodesOutsideQuery', 'false');",  # filtered-out assets become links
            args.direction,
        )
        chrome.get(page)
        try:
            rendered = _wait_for_graph(chrome, WebDriverWait, args.timeout)
        except TimeoutException:
            return [f"the asset graph did not render within {args.timeout:.0f} s at {page}"]
        chrome.execute_script(_SKIP_NUX_JS)
        if not chrome.execute_script(_HIDE_SIDEBAR_JS):
            print("note: no 'Hide sidebar' button found; the group list stays on the left")
        time.sleep(0.5)

        # Grow the page until the whole graph fits at the zoom the UI picks (fit to width, at most 100%).
        box = chrome.execute_script(_VIEWPORT_BOX_JS)
        scale = min(1.0, box["width"] / rendered["width"])
        height = int(box["top"] + rendered["height"] * scale + 24)
        _set_viewport(chrome, args.width, max(height, 600))
        time.sleep(0.5)
        chrome.execute_script(_AUTOCENTER_JS)
        time.sleep(1.0)  # the double-click recentre animates
        # Nodes outside the visible area are not drawn (nor their statuses fetched): look again now all are in view.
        try:
            rendered = _wait_for_graph(chrome, WebDriverWait, args.timeout)
        except TimeoutException:
            return [f"the asset graph did not settle within {args.timeout:.0f} s after resizing the page"]
        problems = _compare(rendered, groups, expand, excluded, strict)
        print(f"graph: {rendered['width']:.0f} x {rendered['height']:.0f} px at {scale:.0%}; "
              f"page {args.width} x {max(height, 600)}; {rendered['edges']} edges")

        shot = chrome.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(base64.b64decode(shot["data"]))
        errors = [e["message"] for e in chrome.get_log("browser") if e.get("level") == "SEVERE"]
        for error in errors:
            print(f"console error: {error}")
        return problems
    finally:
        chrome.quit()


def _set_viewport(chrome: object, width: int, height: int) -> None:
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # type: ignore[attr-defined]
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _wait_for_graph(chrome: object, wait_cls: type, timeout: float) -> dict:
    """Poll until the graph has groups and edges and two looks 0.5 s apart agree (the layout runs in a worker)."""
    last: list[dict | None] = [None]

    def settled(driver: object) -> dict | bool:
        now = driver.execute_script(_RENDERED_JS)  # type: ignore[attr-defined]
        before, last[0] = last[0], now
        ready = bool(now and now["texts"] and now["edges"] and not now["busy"])
        return now if ready and now == before else False

    return wait_cls(chrome, timeout, poll_frequency=0.5).until(settled)


def _compare(rendered: dict, groups: dict[str, list[str]], expand: list[str], excluded: list[str],
             strict: bool) -> list[str]:
    """What the page draws against what the API says: every group, every opened group's assets, some edges."""
    group_texts = [t["text"] for t in rendered["texts"] if t["group"]]
    all_texts = [t["text"] for t in rendered["texts"]]
    problems = []
    for group, assets in sorted(groups.items()):
        if set(assets) <= set(excluded):
            continue
        if group in expand:
            shown = group in all_texts
            missing = [a for a in assets if a not in excluded and not any(_shows(t, a) for t in all_texts)]
            if missing:
                problems.append(f"group {group} is open but does not show {missing}")
        else:
            shown = any(t.startswith(group) and t[len(group):].isdigit() for t in group_texts)
        print(f"  group {group:<10} {'drawn' if shown else 'MISSING'}" + (" (opened)" if group in expand else ""))
        if not shown and strict:
            problems.append(f"group {group} is not drawn")
    if not any(t["group"] for t in rendered["texts"]) and not expand:
        problems.append("no groups drawn")
    if not rendered["edges"]:
        problems.append("no edges drawn")
    return problems


def _shows(text: str, asset_key: str) -> bool:
    """Whether a node's text is this asset's name; the UI cuts long names in the middle (pqa_sc…_components)."""
    name = asset_key.split("/")[-1]
    head, cut, tail = text.partition("…")
    return text == name or (bool(cut) and name.startswith(head) and name.endswith(tail) and len(name) >= len(text))


if __name__ == "__main__":
    sys.exit(main())
