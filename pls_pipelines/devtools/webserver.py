"""Run the Dagster UI (dagster-webserver) in the background on 127.0.0.1 and query its GraphQL API.

    with dagster_webserver(pls_home=tmp_path) as url:        # e.g. http://127.0.0.1:41237
        nodes = graphql(url, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]

The server is what `make ui` shows: the code location of workspace.yaml, served by the same dagster-webserver. It
gets its own Dagster instance - a temporary DAGSTER_HOME unless one is given - whose dagster.yaml turns telemetry
off (a test must not reach beyond 127.0.0.1) and the "Join the Dagster community" dialog off (it would cover a
screenshot). It binds 127.0.0.1 only: the UI has no authentication and can launch runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = REPO_ROOT / "workspace.yaml"
# Written only into a DAGSTER_HOME this module creates; a given DAGSTER_HOME is used as it is.
INSTANCE_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"

# /server_info answers before the code location has loaded; this says when it has (or why it failed to).
_LOCATIONS_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries { name loadStatus locationOrLoadError { __typename ... on PythonError { message } } }
    }
    ... on PythonError { message }
  }
}
"""


class WebserverError(RuntimeError):
    """dagster-webserver did not start, or its code location did not load."""


class GraphQLError(RuntimeError):
    """The GraphQL API answered with errors."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def graphql(
    base_url: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """POST `query` to `base_url`/graphql and return its `data`; GraphQLError when the answer carries errors."""
    response = requests.post(
        f"{base_url.rstrip('/')}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=timeout
    )
    try:
        payload = response.json()
    except ValueError:
        response.raise_for_status()
        raise GraphQLError(f"not a GraphQL answer (HTTP {response.status_code}): {response.text[:300]}") from None
    if payload.get("errors"):  # a schema mismatch answers HTTP 400 with errors, a resolver failure HTTP 200
        messages = "; ".join(str(error.get("message", error)) for error in payload["errors"])
        raise GraphQLError(f"GraphQL errors (HTTP {response.status_code}): {messages}")
    response.raise_for_status()
    return payload["data"]


@contextmanager
def dagster_webserver(
    *,
    pls_home: Path | str | None = None,
    dagster_home: Path | str | None = None,
    workspace: Path | str = WORKSPACE,
    port: int | None = None,
    timeout: float = 120.0,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Start `dagster-webserver -w workspace -h 127.0.0.1 -p port`, yield its base URL once the code location has
    loaded, and stop it afterwards (SIGTERM, SIGKILL after 15 s).

    pls_home and dagster_home default to fresh temporary folders; a given DAGSTER_HOME (say .pls/dagster_home, to
    see `make run`'s run history) is used as it is. Raises WebserverError with the end of the server's log when
    the server exits early, the location fails to load, or nothing is ready within `timeout` seconds.
    """
    workspace = Path(workspace).resolve()
    if not workspace.is_file():
        raise WebserverError(f"{workspace}: no such workspace file (run from a checkout of pls-pipelines)")
    with tempfile.TemporaryDirectory(prefix="pls-webserver-") as scratch_dir:
        scratch = Path(scratch_dir)
        if dagster_home is None:
            dagster_home = scratch / "dagster_home"
            dagster_home.mkdir()
            (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML)
        if pls_home is None:
            pls_home = scratch / "pls_home"
            pls_home.mkdir()
        env = {
            **os.environ,
            **(extra_env or {}),
            "DAGSTER_HOME": str(Path(dagster_home).resolve()),
            "PLS_HOME": str(Path(pls_home).resolve()),
        }
        port = port or free_port()
        base_url = f"http://{HOST}:{port}"
        log_path = scratch / "webserver.log"
        command = [sys.executable, "-m", "dagster_webserver", "-w", str(workspace), "-h", HOST, "-p", str(port)]
        with log_path.open("wb") as log:
            # Its own session, so stopping it also stops the gRPC code server it spawns (same process group).
            process = subprocess.Popen(
                command, cwd=workspace.parent, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            _wait_until_loaded(process, base_url, log_path, timeout)
            yield base_url
        finally:
            _stop(process)


def _wait_until_loaded(process: subprocess.Popen, base_url: str, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WebserverError(
                f"dagster-webserver exited with code {process.returncode} before it answered:\n{_tail(log_path)}"
            )
        try:
            requests.get(f"{base_url}/server_info", timeout=2).raise_for_status()
            workspace = graphql(base_url, _LOCATIONS_QUERY, timeout=10)["workspaceOrError"]
        except (requests.RequestException, GraphQLError) as exc:
            last_problem = str(exc)
            time.sleep(0.25)
            continue
        if workspace["__typename"] == "PythonError":
            raise WebserverError(f"the workspace did not load: {workspace['message']}\n{_tail(log_path)}")
        entries = workspace["locationEntries"]
        for entry in entries:
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                raise WebserverError(f"code location {entry['name']} failed to load: {error['message']}")
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            return
        last_problem = "code location still loading"
        time.sleep(0.25)
    raise WebserverError(f"dagster-webserver not ready after {timeout:.0f} s ({last_problem}):\n{_tail(log_path)}")


def _stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the group this module created: the webserver and its code server
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
