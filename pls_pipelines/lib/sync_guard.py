"""The guard in front of the CRM write: stop a sync that looks wrong before it floods the CRM.

Two signs of a bad run: far more accounts than usual changing tier at once (a scoring change gone wrong, a
broken upstream table), and a previous run whose writes the CRM mostly rejected (a field deleted in the CRM,
a wrong portal). Either stops the sync with a message that says what was seen and how to approve it. An
approval is for one pending change (its fingerprint), so approving today's re-scoring does not also wave
through tomorrow's surprise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

APPROVE_COMMAND = "pls sync --approve"


@dataclass(frozen=True)
class GuardSettings:
    """crm_fields.yaml `guard:`. Below `min_records` comparable records no share is meaningful (a first sync, a
    tiny CRM), so the tier rule does not apply."""

    max_tier_change_share: float = 0.20
    max_rejected_share: float = 0.05
    min_records: int = 20


@dataclass(frozen=True)
class PreviousRun:
    """Outcome counts of the previous sync run (crm_sync_log), for the rejected-share rule."""

    run_id: str
    sent: int
    rejected: int

    @property
    def rejected_share(self) -> float:
        attempted = self.sent + self.rejected
        return self.rejected / attempted if attempted else 0.0


@dataclass(frozen=True)
class GuardVerdict:
    passed: bool
    approved: bool  # failed the rules but a person approved exactly this change
    problems: list[str] = field(default_factory=list)
    tier_changes: int = 0
    comparable: int = 0
    rejected_share: float | None = None
    fingerprint: str = ""
    examples: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    @property
    def message(self) -> str:
        if not self.problems:
            return "The sync looks normal."
        text = " ".join(self.problems)
        if self.approved:
            return f"{text} Approved (change {self.fingerprint}): the sync goes ahead."
        return (
            f"{text} The CRM sync is stopped so that a bad change does not reach sellers. If the change is "
            f"intended, approve it with `{APPROVE_COMMAND}` (approves exactly this change, {self.fingerprint}) "
            "and run again; or raise the limit in crm_fields.yaml (guard:)."
        )


def tier_changes(
    desired_tiers: Mapping[str, str | None], synced_tiers: Mapping[str, str | None]
) -> tuple[list[tuple[str, str | None, str | None]], int]:
    """(record, old tier, new tier) for records synced before whose tier would change, and how many records
    could be compared (synced before and still in scope)."""
    comparable = [r for r in desired_tiers if r in synced_tiers]
    changed = [
        (r, synced_tiers[r], desired_tiers[r]) for r in sorted(comparable) if desired_tiers[r] != synced_tiers[r]
    ]
    return changed, len(comparable)


def change_fingerprint(changes: list[tuple[str, str | None, str | None]], previous_run_id: str | None) -> str:
    """Identifies one pending change: the same tier moves (and the same previous run) give the same id."""
    text = "|".join(f"{r}:{old}>{new}" for r, old, new in changes) + f"#{previous_run_id or ''}"
    return "change-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def evaluate_guard(
    desired_tiers: Mapping[str, str | None],
    synced_tiers: Mapping[str, str | None],
    previous: PreviousRun | None,
    settings: GuardSettings,
    approvals: Collection[str] = (),
) -> GuardVerdict:
    changes, comparable = tier_changes(desired_tiers, synced_tiers)
    problems = []
    if comparable >= settings.min_records and changes:
        share = len(changes) / comparable
        if share > settings.max_tier_change_share:
            problems.append(
                f"This sync would change the tier of {len(changes):,} of {comparable:,} CRM companies ({share:.0%}; "
                f"the limit is {settings.max_tier_change_share:.0%})."
            )
    rejected_share = previous.rejected_share if previous is not None else None
    if previous is not None and rejected_share is not None and rejected_share > settings.max_rejected_share:
        problems.append(
            f"The CRM rejected {previous.rejected:,} of {previous.sent + previous.rejected:,} records in the previous "
            f"sync ({rejected_share:.0%}; the limit is {settings.max_rejected_share:.0%}): see crm_sync_log for "
            "the CRM's reasons."
        )
    fingerprint = change_fingerprint(changes, previous.run_id if previous is not None and problems else None)
    approved = bool(problems) and fingerprint in set(approvals)
    return GuardVerdict(
        passed=not problems or approved,
        approved=approved,
        problems=problems,
        tier_changes=len(changes),
        comparable=comparable,
        rejected_share=rejected_share,
        fingerprint=fingerprint,
        examples=changes[:10],
    )
