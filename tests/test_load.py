"""Load: the whole pipeline at a CI size against the HubSpot contract fake at HubSpot's real rate limit.

The same steps as benchmarks/full_pipeline_benchmark.py (its functions, so the two never drift) on 3,000
workspaces and 50,000 CRM contacts: demo data loaded through the API, extra contacts seeded, the daily job twice.
What a user relies on: both runs succeed, every company and contact that should carry pls_* fields holds exactly
the warehouse's values in HubSpot and no other record holds any, the client stays under the rate limit (the few
429s it may meet are retried, so nothing is lost), and the second run writes nothing. About 3 minutes on the
2-core development machine.
"""

from __future__ import annotations

import pytest

from benchmarks.full_pipeline_benchmark import LIMIT, TOKEN, hubspot_env, run_load
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from tests.fakes.hubspot_fake import HubSpotFake

pytestmark = [pytest.mark.slow, pytest.mark.long]

ACCOUNTS = 3_000
CONTACTS = 50_000
DAYS = 7
MAX_429 = 5  # the client throttles from HubSpot's headers: a 429 is an accident of timing, never a pattern


def test_full_pipeline_at_the_real_rate_limit_loses_nothing_and_reruns_without_writes(tmp_path, monkeypatch):
    with HubSpotFake(token=TOKEN, rate_limit=LIMIT) as fake:
        for name, value in hubspot_env(tmp_path, fake).items():
            monkeypatch.setenv(name, value)
        figures = run_load(tmp_path, fake, ACCOUNTS, DAYS, CONTACTS, log=lambda line: None)

    assert figures.crm_counts["contacts"] == CONTACTS and figures.seeded_contacts > 0
    assert figures.first_success and figures.second_success

    companies, contacts = figures.check["companies"], figures.check["contacts"]
    assert companies["expected"] > 0.7 * ACCOUNTS and contacts["expected"] > 0.8 * CONTACTS
    for object_type, counts in figures.check.items():
        assert counts["lost"] == counts["wrong"] == counts["extra"] == 0, (object_type, counts)

    first, second = figures.first_writes, figures.second_writes
    expected = companies["expected"] + contacts["expected"]
    assert first["rate_limited"] <= MAX_429 and second["rate_limited"] <= MAX_429, (first, second)
    assert first["records_updated"] == expected  # each record written once (a 429 is refused before the write)
    assert first["batch_update_calls"] <= -(-expected // 100) + first["rate_limited"] + 2  # 2: one part-batch each
    assert second["write_calls"] == 0  # nothing changed: not one write call

    # every record's outcome is logged, and none of them is a failure the next run would have to retry
    wh = Warehouse(load_settings().warehouse_url)
    try:
        log = wh.read_table("crm_sync_log")
    finally:
        dispose_all_engines()
    assert set(log["status"]) <= {"sent", "unchanged"}
    assert (log["status"] == "sent").sum() == expected
