"""The whole pipeline at scale against HubSpot at its real rate limit (a measurement, not a test).

    .venv/bin/python benchmarks/full_pipeline_benchmark.py                    # 100,000 accounts, 1M contacts
    .venv/bin/python benchmarks/full_pipeline_benchmark.py --accounts 5000 --contacts 50000
    .venv/bin/python benchmarks/full_pipeline_benchmark.py --accounts 20000 --contacts 200000 --days 14

Starts the HubSpot contract fake (tests/fakes/hubspot_fake.py) on 127.0.0.1 enforcing 190 requests per rolling
10 s (a Professional/Enterprise private app) and then, like a user would:

  generate     the demo landing files (pls demo-data: --accounts workspaces, --days of events; the demo makes
               ~18 users and ~120 events per workspace per 14 days: 100,000 workspaces over 14 days are 11.8M events)
  load CRM     the demo's companies, contacts and deals loaded into the fake through HubSpot's API (the demo
               generator makes ~6 contacts per company)
  seed         extra contacts put straight into the fake's store (no HTTP) until it holds --contacts: CRM
               contacts with no product user behind them, each associated with a demo company - as in a real
               portal, where most contacts never signed up to the product
  first run    pls_daily_job over every landing day as one Dagster run (in-process executor, ephemeral
               instance), reading everything from HubSpot and writing every pls_* field; per-asset durations come
               from the run's step stats
  second run   the same job again (steady state): an incremental CRM read, and nothing to write

and checks what a user relies on: the run succeeded, every company and contact the warehouse says should carry
pls_* fields holds exactly those values in the fake (zero lost, zero wrong) and no other record holds any
(zero extra), 429s (the client throttles, so 0 or a few, all retried), and zero write calls in the second run.

Peak RSS is this process's resident memory, sampled every 0.2 s: the highest value within each phase, and
ru_maxrss (resource.getrusage) for the whole run. The fake's server thread runs in this process, so the figures
include the fake's in-memory copy of every record. tests/test_load.py runs the same functions at a CI size.
Prints the figures and whether each target is met; it does not fail.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes lives beside the package

from pls_pipelines.cli import generate_demo
from pls_pipelines.lib.crm_fields import load_crm_fields
from pls_pipelines.lib.sync import desired_values
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.hubspot import HubSpotCrm
from pls_pipelines.resources.hubspot.values import to_hubspot
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import Settings, load_settings
from tests.fakes.hubspot_fake import HubSpotFake
from tests.pipeline_helpers import demo_definitions, landing_days, run_all_days

TOKEN = "benchmark-token"
LIMIT = (190, 10.0)  # HubSpot Professional/Enterprise private app: 190 requests per rolling 10 s
BATCH = 100  # records per batch write and per list page
END = date(2026, 11, 22)
SEED = 7
FIELD_PREFIX = "pls_"
TITLES = ["Software Engineer", "Account Executive", "Marketing Manager", "VP Engineering", "Director of IT",
          "Data Analyst", "Procurement Manager", "Head of Product", "Customer Success Manager", None]
FIRST = ["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jo", "Kofi", "Lea"]
LAST = ["Ruiz", "Wong", "Okafor", "Schmidt", "Novak", "Patel", "Silva", "Kim", "Haddad", "Berg"]


@dataclass
class Phase:
    name: str
    seconds: float
    peak_rss_mb: float
    detail: str = ""


@dataclass
class LoadFigures:
    """What a run of the load measured; `phases` in order."""

    accounts: int
    days: int
    phases: list[Phase] = field(default_factory=list)
    crm_counts: dict[str, int] = field(default_factory=dict)  # records the fake holds, after loading
    demo_contacts: int = 0
    seeded_contacts: int = 0
    events: int = 0
    first_steps: list[tuple[str, float]] = field(default_factory=list)  # (asset step, seconds), slowest first
    second_steps: list[tuple[str, float]] = field(default_factory=list)
    first_writes: dict[str, int] = field(default_factory=dict)  # fake counters during the first run
    second_writes: dict[str, int] = field(default_factory=dict)
    first_success: bool = False
    second_success: bool = False
    check: dict[str, dict[str, int]] = field(default_factory=dict)  # object type -> expected/lost/wrong/extra


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hubspot_env(home: Path, fake: HubSpotFake) -> dict[str, str]:
    """The environment that points the pipeline (settings, demo loader, CrmResource) at the fake."""
    return {"PLS_HOME": str(home), "PLS_CRM": "hubspot", "HUBSPOT_ACCESS_TOKEN": fake.token,
            "HUBSPOT_BASE_URL": fake.base_url}


def hubspot_definitions(settings: Settings, fake: HubSpotFake) -> dg.Definitions:
    crm = CrmResource(kind="hubspot", hubspot_access_token=fake.token, hubspot_base_url=fake.base_url)
    return demo_definitions(settings, crm=crm)


class RssSampler:
    """This process's resident memory, sampled every `interval` s by a daemon thread; peak() is the highest value
    since the previous peak() call, in MB. Where /proc is missing, the peak so far (ru_maxrss) instead."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._high = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _current(self) -> int:
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * self._page
        except OSError:
            return int(peak_rss_mb() * 2**20)

    def _sample(self) -> int:
        value = self._current()
        with self._lock:
            self._high = max(self._high, value)
        return value

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def peak(self) -> float:
        now = self._sample()
        with self._lock:
            high, self._high = self._high, now
        return high / 2**20

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def generate(settings: Settings, accounts: int, days: int, rss: RssSampler) -> tuple[dict, float, float, float]:
    """pls demo-data into the fake: the manifest, the seconds spent loading the CRM through the API, and the peak
    RSS (MB) while generating and writing the files, and while loading the CRM."""
    original = HubSpotCrm.load_demo
    spent: list[float] = []
    peaks: list[float] = []

    def load_demo(self, *args, **kwargs):
        peaks.append(rss.peak())  # generating
        started = time.monotonic()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent.append(time.monotonic() - started)
            peaks.append(rss.peak())  # loading

    HubSpotCrm.load_demo = load_demo
    try:
        manifest = generate_demo(settings, accounts, seed=SEED, days=days, end=END, crm_kind="hubspot")
    finally:
        HubSpotCrm.load_demo = original
    return manifest, sum(spent), max(peaks[0], rss.peak()), peaks[1]


def seed_contacts(fake: HubSpotFake, target: int, seed: int = SEED) -> int:
    """Add contacts straight into the fake's store (no HTTP) until it holds `target`: people the product does not
    know, spread over the CRM's companies with their company's email domain and a mix of titles. Returns how many
    were added (0 when the demo already made enough)."""
    missing = target - len(fake.records("contacts"))
    if missing <= 0:
        return 0
    companies = [(r["id"], r["properties"].get("domain") or f"co{r['id']}.example")
                 for r in fake.records("companies")]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(companies), missing)
    titles = rng.integers(0, len(TITLES), missing)
    first = rng.integers(0, len(FIRST), missing)
    last = rng.integers(0, len(LAST), missing)
    chunk = 50_000
    for start in range(0, missing, chunk):
        rows = []
        for i in range(start, min(missing, start + chunk)):
            company_id, domain = companies[picks[i]]
            row = {"firstname": FIRST[first[i]], "lastname": LAST[last[i]], "email": f"crm{i}@{domain}",
                   "company_id": company_id}
            if TITLES[titles[i]]:
                row["jobtitle"] = TITLES[titles[i]]
            rows.append(row)
        fake.seed(contacts=rows)
    return missing


def run_job(settings: Settings, definitions: dg.Definitions, instance: dg.DagsterInstance
            ) -> tuple[dg.ExecuteInProcessResult, float, list[tuple[str, float]]]:
    """pls_daily_job over every landing day: the result, wall seconds and (step, seconds) slowest first."""
    started = time.monotonic()
    result = run_all_days(settings, definitions, instance, expect_success=False)
    seconds = time.monotonic() - started
    steps = [(s.step_key, (s.end_time or 0) - (s.start_time or 0)) for s in instance.get_run_step_stats(result.run_id)
             if s.start_time is not None]
    return result, seconds, sorted(steps, key=lambda s: -s[1])


def fake_counters(fake: HubSpotFake) -> dict[str, int]:
    updated = sum(n for route, n in fake.batch_inputs if route.endswith("/batch/update"))
    return {
        "requests": sum(fake.requests.values()),
        "write_calls": fake.write_calls,
        "batch_update_calls": sum(n for (_, route), n in fake.requests.items() if route.endswith("/batch/update")),
        "records_updated": updated,
        "search_calls": sum(n for (_, route), n in fake.requests.items() if route.endswith("/search")),
        "rate_limited": fake.rate_limited,
    }


def expected_values(settings: Settings) -> dict[str, dict[str, dict[str, str]]]:
    """object type -> record id -> {pls_* field: value as HubSpot stores it}, from the warehouse tables the sync
    reads (account_routing, buyer_candidates) through the sync's own conversions. An empty value means "unset"."""
    field_map = load_crm_fields()
    wh = Warehouse(settings.warehouse_url)
    try:
        out = {}
        for object_type, spec in field_map.objects.items():
            source = wh.read_table(spec.source_table).drop_duplicates(spec.key_column)
            kinds = {f.name: f.type for f in spec.fields}
            out[object_type] = {record_id: to_hubspot(kinds, values)
                                for record_id, values in desired_values(source, spec.key_column, spec.fields).items()}
        return out
    finally:
        dispose_all_engines()


def check_crm(fake: HubSpotFake, expected: dict[str, dict[str, dict[str, str]]]) -> dict[str, dict[str, int]]:
    """Per object type: expected records, lost (expected, but a pls_* value missing), wrong (a value differs) and
    extra (a record outside the expected set holding any pls_* value)."""
    out = {}
    for object_type, wanted in expected.items():
        lost = wrong = extra = 0
        seen = set()
        for record in fake.records(object_type):
            seen.add(record["id"])
            held = {k: v for k, v in record["properties"].items() if k.startswith(FIELD_PREFIX) and v not in (None, "")}
            values = wanted.get(record["id"])
            if values is None:
                extra += bool(held)
                continue
            target = {k: v for k, v in values.items() if v not in (None, "")}
            if held == target:
                continue
            if set(target) - set(held):
                lost += 1
            else:
                wrong += 1
        lost += sum(1 for record_id in wanted if record_id not in seen)
        out[object_type] = {"expected": len(wanted), "lost": lost, "wrong": wrong, "extra": extra}
    return out


def run_load(home: Path, fake: HubSpotFake, accounts: int, days: int, contacts: int, log=print) -> LoadFigures:
    """Generate, load, seed, run twice, check. The caller has put hubspot_env(home, fake) into os.environ."""
    rss = RssSampler()
    try:
        return _run_load(home, fake, accounts, days, contacts, log, rss)
    finally:
        rss.close()


def _run_load(home: Path, fake: HubSpotFake, accounts: int, days: int, contacts: int, log, rss: RssSampler
              ) -> LoadFigures:
    figures = LoadFigures(accounts=accounts, days=days)
    settings = load_settings()

    started = time.monotonic()
    manifest, load_seconds, generate_peak, load_peak = generate(settings, accounts, days, rss)
    total = time.monotonic() - started
    figures.events = int(manifest["files"].get("events", 0)) if isinstance(manifest.get("files"), dict) else 0
    figures.demo_contacts = int(manifest["crm"]["contacts"])
    crm_records = sum(int(manifest["crm"][k]) for k in ("companies", "contacts", "deals"))
    figures.phases.append(Phase("generate demo data + write landing files", total - load_seconds, generate_peak,
                                f"{accounts:,} workspaces, {days} days, {figures.events:,} events"))
    figures.phases.append(Phase("load demo CRM through the API", load_seconds, load_peak,
                                f"{crm_records:,} records, {crm_records / max(load_seconds, 1e-9):,.0f}/s"))
    log(f"generated and loaded in {total:.0f} s")

    started = time.monotonic()
    figures.seeded_contacts = seed_contacts(fake, contacts)
    figures.crm_counts = {t: len(fake.records(t)) for t in ("companies", "contacts", "deals")}
    figures.phases.append(Phase("seed extra contacts into the fake (no HTTP)", time.monotonic() - started,
                                rss.peak(), f"{figures.seeded_contacts:,} contacts"))
    log(f"CRM holds {figures.crm_counts}")

    definitions = hubspot_definitions(settings, fake)
    with dg.DagsterInstance.ephemeral() as instance:
        fake.reset_counters()
        rss.peak()
        first, seconds, figures.first_steps = run_job(settings, definitions, instance)
        figures.first_success = first.success
        figures.first_writes = fake_counters(fake)
        days_run = len(landing_days(settings))
        figures.phases.append(Phase("first run (full CRM read, every field written)", seconds, rss.peak(),
                                    f"{days_run} days; {figures.first_writes['records_updated']:,} records written"))
        log(f"first run {'succeeded' if first.success else 'FAILED'} in {seconds:.0f} s")

        fake.reset_counters()
        second, seconds, figures.second_steps = run_job(settings, definitions, instance)
        figures.second_success = second.success
        figures.second_writes = fake_counters(fake)
        figures.phases.append(Phase("second run (steady state)", seconds, rss.peak(),
                                    f"{figures.second_writes['write_calls']} write calls"))
        log(f"second run {'succeeded' if second.success else 'FAILED'} in {seconds:.0f} s")

    figures.check = check_crm(fake, expected_values(settings))
    return figures


def report(figures: LoadFigures) -> None:
    bound = LIMIT[0] * BATCH / LIMIT[1]
    print(f"\nHubSpot fake at {LIMIT[0]} requests / {LIMIT[1]:.0f} s (write and list-page bound {bound:,.0f} "
          f"records/s); {figures.accounts:,} workspaces, {figures.days} days")
    print(f"CRM: {figures.crm_counts.get('companies', 0):,} companies, {figures.crm_counts.get('contacts', 0):,} "
          f"contacts ({figures.demo_contacts:,} from the demo loader, {figures.seeded_contacts:,} seeded), "
          f"{figures.crm_counts.get('deals', 0):,} deals")
    print("\n| Phase | Time | Detail | Peak RSS in the phase |\n|---|---|---|---|")
    for phase in figures.phases:
        print(f"| {phase.name} | {phase.seconds:,.1f} s | {phase.detail} | {phase.peak_rss_mb:,.0f} MB |")
    for label, steps in (("first run", figures.first_steps), ("second run", figures.second_steps)):
        print(f"\n{label}, slowest steps: " + ", ".join(f"{k} {s:,.1f} s" for k, s in steps[:12]))
    for label, counters in (("first run", figures.first_writes), ("second run", figures.second_writes)):
        print(f"{label}: " + ", ".join(f"{k} {v:,}" for k, v in counters.items()))
    ok = figures.first_success and figures.second_success
    print(f"\nboth runs succeeded: {'yes' if ok else 'NO'}")
    for object_type, c in figures.check.items():
        verdict = "met" if c["lost"] == c["wrong"] == c["extra"] == 0 else "MISSED"
        print(f"{object_type}: {c['expected']:,} records should carry pls_* fields; lost {c['lost']}, wrong "
              f"{c['wrong']}, extra {c['extra']} (target 0: {verdict})")
    expected = sum(c["expected"] for c in figures.check.values())
    written = figures.first_writes.get("records_updated", 0)
    print(f"records written in the first run: {written:,} of {expected:,} expected")
    limited = figures.first_writes.get("rate_limited", 0) + figures.second_writes.get("rate_limited", 0)
    print(f"429s sent by the fake: {limited} (the client retries them: a 429 that outlasted the retries would show "
          "above as a lost record)")
    second = figures.second_writes.get("write_calls", -1)
    print(f"second run write calls: {second} (target 0: {'met' if second == 0 else 'MISSED'})")
    bound_writes = math.ceil(written / bound) if written else 0
    print(f"rate-limit floor for the first run's writes alone: {bound_writes:,} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000, help="product workspaces (~1 CRM company each)")
    parser.add_argument("--contacts", type=int, default=1_000_000,
                        help="contacts the CRM should hold: extra ones are seeded into the fake directly")
    parser.add_argument("--days", type=int, default=14, help="days of usage events (at least 7)")
    parser.add_argument("--home", type=Path, default=None, help="PLS_HOME to use (default: a temporary folder)")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pls-load-")))
        fake = stack.enter_context(HubSpotFake(token=TOKEN, rate_limit=LIMIT))
        os.environ.update(hubspot_env(home, fake))
        started = time.monotonic()
        figures = run_load(home, fake, args.accounts, args.days, args.contacts,
                           log=lambda line: print(f"[{time.monotonic() - started:7.0f} s] {line}", flush=True))
    report(figures)
    print(f"total {time.monotonic() - started:,.0f} s; peak RSS {peak_rss_mb():,.0f} MB (this process, including "
          "the fake's server thread and its copy of every record)")


if __name__ == "__main__":
    main()
