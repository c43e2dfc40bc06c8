"""The guard in front of the CRM write: tier-change share, rejected share, approvals."""

from pls_pipelines.lib.sync_guard import APPROVE_COMMAND, GuardSettings, PreviousRun, evaluate_guard

SETTINGS = GuardSettings(max_tier_change_share=0.2, max_rejected_share=0.05, min_records=20)


def tiers(n: int, changed: int) -> tuple[dict, dict]:
    synced = {f"c{i}": "self_serve" for i in range(n)}
    desired = dict(synced)
    for i in range(changed):
        desired[f"c{i}"] = "sales"
    return desired, synced


def test_a_normal_day_passes():
    desired, synced = tiers(100, 20)  # exactly 20%: at the limit, not over it
    verdict = evaluate_guard(desired, synced, PreviousRun("r1", sent=100, rejected=5), SETTINGS)
    assert verdict.passed and not verdict.problems and verdict.tier_changes == 20


def test_too_many_tier_changes_stop_the_sync_with_a_way_to_approve():
    desired, synced = tiers(100, 21)
    verdict = evaluate_guard(desired, synced, None, SETTINGS)
    assert not verdict.passed
    assert "change the tier of 21 of 100 CRM companies (21%; the limit is 20%)" in verdict.message
    assert APPROVE_COMMAND in verdict.message and verdict.fingerprint in verdict.message
    assert verdict.examples[0] == ("c0", "self_serve", "sales")


def test_an_approval_covers_exactly_the_change_it_was_given_for():
    desired, synced = tiers(100, 30)
    first = evaluate_guard(desired, synced, None, SETTINGS)
    approved = evaluate_guard(desired, synced, None, SETTINGS, approvals={first.fingerprint})
    assert approved.passed and approved.approved and "Approved" in approved.message
    other, _ = tiers(100, 31)
    assert not evaluate_guard(other, synced, None, SETTINGS, approvals={first.fingerprint}).passed


def test_a_previous_run_the_crm_mostly_rejected_stops_the_next():
    desired, synced = tiers(100, 0)
    verdict = evaluate_guard(desired, synced, PreviousRun("r9", sent=90, rejected=10), SETTINGS)
    assert not verdict.passed and "rejected 10 of 100 records" in verdict.message


def test_first_sync_and_tiny_crms_are_not_judged_by_share():
    desired, _ = tiers(100, 100)
    assert evaluate_guard(desired, {}, None, SETTINGS).passed  # nothing synced before: nothing to compare
    small_desired, small_synced = tiers(10, 10)
    assert evaluate_guard(small_desired, small_synced, None, SETTINGS).passed  # under min_records
