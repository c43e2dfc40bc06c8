"""How long the demo data takes to generate and write, and how big it is (a measurement, not a test).

    .venv/bin/python benchmarks/demo_data_benchmark.py       # default size: 2,000 workspaces, 90 days
    .venv/bin/python benchmarks/demo_data_benchmark.py --accounts 10000 --out /tmp/landing

Exits non-zero when the default-size targets are missed (>= 2,000 workspaces, >= 30,000 users,
>= 1,000,000 events, generate + write under 60 s), so a change that makes `pls demo-data` slow or thin
shows up when this is run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from pls_pipelines.sample_data.generator import generate_demo_data, write_landing_files

TARGETS = {"workspaces": 2_000, "users": 30_000, "events": 1_000_000}
MAX_SECONDS = 60.0


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def run(accounts: int, seed: int, days: int, out: Path) -> bool:
    end_date = dt.date(2026, 11, 22)
    started = time.perf_counter()
    data = generate_demo_data(accounts=accounts, seed=seed, days=days, end_date=end_date)
    generated = time.perf_counter()
    counts = write_landing_files(data, out)
    written = time.perf_counter()

    day_files = sorted((out / "events").glob("*.jsonl"))
    sizes = [f.stat().st_size for f in day_files]
    print(f"demo data: accounts={accounts} seed={seed} days={days} end_date={end_date} -> {out}")
    print(f"  generate   {generated - started:6.1f} s")
    print(f"  write      {written - generated:6.1f} s")
    print(f"  total      {written - started:6.1f} s  (target < 30 s, limit {MAX_SECONDS:.0f} s)")
    for key, value in counts.items():
        print(f"  {key:<11}{value:>12,}")
    print(f"  duplicates {int(data.events['event_id'].duplicated().sum()):>12,}")
    for name in ("crm_owners", "crm_companies", "crm_contacts", "crm_deals"):
        print(f"  {name:<15}{len(getattr(data, name)):>8,}")
    print(f"  workspaces.csv {_mb((out / 'workspaces.csv').stat().st_size)}")
    print(f"  users.csv      {_mb((out / 'users.csv').stat().st_size)}")
    print(f"  events/*.jsonl {_mb(sum(sizes))} in {len(sizes)} files (largest {_mb(max(sizes, default=0))})")

    if (accounts, days) != (2000, 90):
        return True
    ok = (written - started) < MAX_SECONDS and all(counts[k] >= v for k, v in TARGETS.items())
    print("  default-size targets:", "met" if ok else f"MISSED {TARGETS} / {MAX_SECONDS:.0f} s")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--out", type=Path, help="landing folder to write (default: a temporary folder)")
    args = parser.parse_args()
    if args.out is not None:
        return 0 if run(args.accounts, args.seed, args.days, args.out) else 1
    with tempfile.TemporaryDirectory(prefix="pls-demo-bench-") as folder:
        return 0 if run(args.accounts, args.seed, args.days, Path(folder)) else 1


if __name__ == "__main__":
    sys.exit(main())
