"""How fast the CRM sync writes to HubSpot at HubSpot's real rate limit (a measurement, not a test).

    .venv/bin/python benchmarks/crm_sync_benchmark.py                     # 100,000 companies (~1.5 min)
    .venv/bin/python benchmarks/crm_sync_benchmark.py --companies 20000

Starts the HubSpot contract fake (tests/fakes/hubspot_fake.py) on 127.0.0.1 enforcing 190 requests per rolling
10 s (a Professional/Enterprise private app), seeds N companies, writes an account_routing table for them into
a temporary DuckDB warehouse, and runs the real sync (sync_engine.plan_sync + run_sync, the HubSpotCrm client
with its throttle) with the shipped field map (11 pls_* company fields):

  (a) full sync       every company gets every field: records/s against the limit's bound (190 x 100 / 10 s =
                      1,900 records/s; target >= 90%, i.e. >= 1,700 records/s), 429s received, and a check that
                      the fake holds every value (zero records lost)
  (b) steady state    1% of the companies change score: write calls against ceil(changed / 100)
  (c) rerun           nothing changed: write calls (target 0)

Prints the figures and whether each target is met; it does not fail.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes lives beside the package

from pls_pipelines.lib.crm_fields import load_crm_fields
from pls_pipelines.resources.hubspot import HubSpotCrm
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.sync_engine import plan_sync, run_sync
from tests.fakes.hubspot_fake import HubSpotFake

TOKEN = "benchmark-token"
LIMIT = (190, 10.0)
TARGET_SHARE = 0.90
TIERS = np.array(["sales", "success", "self_serve"])
MOTIONS = np.array(["sales", "success", "abm", "self_serve", "expansion", "churn_risk"])


def routing_table(ids: list[str], rng: np.random.Generator) -> pd.DataFrame:
    n = len(ids)
    score = rng.integers(1, 101, n)
    return pd.DataFrame({
        "crm_company_id": ids,
        "score": score,
        "tier": np.where(score >= 80, "sales", np.where(score >= 60, "success", "self_serve")),
        "is_pqa": score >= 80,
        "motion": MOTIONS[rng.integers(0, len(MOTIONS), n)],
        "motion_reason": [f"PQA (score {s}) with an economic buyer in the product: Dana Ruiz, VP Engineering"
                          for s in score],
        "reasons": "42 active users in 28 days (+30); uses 4 core and 3 advanced features (+20)",
        "recommended_contacts": "buyer: Dana Ruiz (VP Engineering); champion: Lee Wong",
        "active_users_28d": rng.integers(0, 300, n),
        "segment": "mid_market",
        "model_version": "bench0001",
        "as_of_date": "2026-12-01",
    })


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch_update_calls(fake: HubSpotFake) -> int:
    return sum(n for (method, route), n in fake.requests.items() if route.endswith("/batch/update"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--changed-share", type=float, default=0.01)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    fields = load_crm_fields()
    bound = LIMIT[0] * 100 / LIMIT[1]

    with tempfile.TemporaryDirectory() as tmp, HubSpotFake(token=TOKEN, rate_limit=LIMIT) as fake:
        seeded = fake.seed(companies=[{"name": f"Company {i}", "domain": f"company{i}.example"}
                                      for i in range(args.companies)])
        ids = list(seeded["companies"])
        wh = Warehouse(f"duckdb:///{Path(tmp) / 'warehouse.duckdb'}")
        routing = routing_table(ids, rng)
        wh.replace_table("account_routing", routing)
        client = HubSpotCrm(TOKEN, fake.base_url)
        quiet = lambda line: None  # noqa: E731

        # (a) full sync
        plan = plan_sync(wh, client, fields, "companies")
        fake.reset_counters()
        started = time.monotonic()
        result = run_sync(wh, client, fields, plan, run_id="bench-full", log=quiet)
        full_seconds = time.monotonic() - started
        rate = result.counts["sent"] / full_seconds
        held = {r["id"]: r["properties"] for r in fake.records("companies")}
        lost = sum(1 for row in routing.itertuples(index=False)
                   if held[row.crm_company_id].get("pls_pqa_score") != str(row.score))
        full_calls, full_429 = batch_update_calls(fake), fake.rate_limited

        # (b) steady state: 1% change score
        changed = max(1, int(args.companies * args.changed_share))
        picked = rng.choice(len(routing), changed, replace=False)
        routing.loc[picked, "score"] = (routing.loc[picked, "score"] % 100) + 1
        wh.replace_table("account_routing", routing)
        fake.reset_counters()
        started = time.monotonic()
        steady = run_sync(wh, client, fields, plan_sync(wh, client, fields, "companies"), run_id="bench-steady",
                          log=quiet)
        steady_seconds = time.monotonic() - started
        steady_calls = batch_update_calls(fake)

        # (c) rerun with nothing changed
        fake.reset_counters()
        run_sync(wh, client, fields, plan_sync(wh, client, fields, "companies"), run_id="bench-rerun", log=quiet)
        rerun_writes = fake.write_calls
        client.close()
        dispose_all_engines()

    target_rate = TARGET_SHARE * bound
    print(f"HubSpot fake at {LIMIT[0]} requests / {LIMIT[1]:.0f} s; {args.companies:,} companies, "
          f"{len([f for f in fields.objects['companies'].fields])} pls_* fields each")
    print(f"(a) full sync: {result.counts['sent']:,} records in {full_seconds:.1f} s = {rate:,.0f} records/s "
          f"({rate / bound:.0%} of the {bound:,.0f}/s bound; target >= {target_rate:,.0f}/s: "
          f"{'met' if rate >= target_rate else 'MISSED'}); {full_calls:,} batch/update calls, {full_429} x 429, "
          f"records lost: {lost}; peak RSS {peak_rss_mb():,.0f} MB")
    bound_calls = math.ceil(changed / 100)
    print(f"(b) steady state: {steady.counts['sent']:,} changed records in {steady_seconds:.1f} s with "
          f"{steady_calls} write calls (target <= ceil({changed:,}/100) = {bound_calls}: "
          f"{'met' if steady_calls <= bound_calls else 'MISSED'}); {steady.counts['unchanged']:,} unchanged")
    verdict = "met" if rerun_writes == 0 else "MISSED"
    print(f"(c) rerun, nothing changed: {rerun_writes} write calls (target 0: {verdict})")


if __name__ == "__main__":
    main()
