"""Properties of joining product users and CRM contacts into people, over whatever emails and names hold.

Emails come from signup forms and CRMs: mixed case, blanks, free-mail, several '@', NULs, none at all; names
and titles are any text; sign-up times any text. Every user of a matched workspace is one person of its
account, every CRM contact of an account is either that user (same email) or a person of its own, and nobody
else appears - whatever the text looks like.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.lib.people import PEOPLE_COLUMNS, build_people
from tests.hypothesis_settings import NASTY_TEXT, OPTIONAL_TEXT, SLOW

ACCOUNTS = {"w1": "c1", "w2": "c1", "w3": "ws:w3"}
EMAIL = st.one_of(
    OPTIONAL_TEXT,
    st.sampled_from(["dana@acme.com", "DANA@Acme.com ", "lee@acme.com", "sam@gmail.com", "a@b@acme.com", "@", "x@"]),
)
SIGNED_UP = st.one_of(OPTIONAL_TEXT, st.datetimes().map(lambda d: d.isoformat() + "Z"), st.just("-1"))
COUNT = st.one_of(st.none(), st.integers(0, 10**6))


@st.composite
def inputs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n_users = draw(st.integers(0, 6))
    users = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n_users)],
        "workspace_id": [draw(st.sampled_from([*ACCOUNTS, "gone"])) for _ in range(n_users)],
        "email": [draw(EMAIL) for _ in range(n_users)],
        "name": [draw(OPTIONAL_TEXT) for _ in range(n_users)],
        "title": [draw(OPTIONAL_TEXT) for _ in range(n_users)],
        "role": [draw(st.sampled_from(["owner", "admin", "member", None])) for _ in range(n_users)],
        "signed_up_at": [draw(SIGNED_UP) for _ in range(n_users)],
    }, columns=["user_id", "workspace_id", "email", "name", "title", "role", "signed_up_at"], dtype=object)
    active = [u for u in users["user_id"] if draw(st.booleans())]
    windows = pd.DataFrame({
        "user_id": pd.Series(active, dtype=object),
        **{c: [draw(COUNT) for _ in active] for c in ("events_28d", "invites_28d", "users_added_28d",
                                                       "admin_changes_28d", "enterprise_page_views_28d")},
    })
    n_contacts = draw(st.integers(0, 6))
    contacts = pd.DataFrame({
        "contact_id": [f"k{i}" for i in range(n_contacts)],
        "company_id": [draw(st.sampled_from(["c1", "c9", None])) for _ in range(n_contacts)],
        "email": [draw(EMAIL) for _ in range(n_contacts)],
        "first_name": [draw(OPTIONAL_TEXT) for _ in range(n_contacts)],
        "last_name": [draw(OPTIONAL_TEXT) for _ in range(n_contacts)],
        "title": [draw(st.one_of(OPTIONAL_TEXT, NASTY_TEXT)) for _ in range(n_contacts)],
    }, columns=["contact_id", "company_id", "email", "first_name", "last_name", "title"], dtype=object)
    account_map = pd.DataFrame({"workspace_id": list(ACCOUNTS), "account_id": list(ACCOUNTS.values())})
    # text columns as the warehouse and the CRM clients hand them over: objects (None for missing), also empty
    return users, account_map, windows, contacts


@SLOW
@given(frames=inputs())
def test_every_user_and_contact_of_an_account_is_one_person(frames: tuple) -> None:
    users, account_map, windows, contacts = frames
    people = build_people(users, account_map, windows, contacts)
    assert list(people.columns) == PEOPLE_COLUMNS

    mapped = users[users["workspace_id"].isin(ACCOUNTS)]
    product = people[people["user_id"].notna()]
    assert sorted(product["person_id"]) == sorted(mapped["user_id"])  # each user of a matched workspace, once
    account_of = dict(zip(mapped["user_id"], mapped["workspace_id"].map(ACCOUNTS), strict=True))
    assert all(account_of[p] == a for p, a in zip(product["person_id"], product["account_id"], strict=True))
    assert product["activity_rank"].notna().all() and (product["activity_rank"] >= 1).all()

    # a contact of an account is that user (linked by email) or a person of its own, never both, never lost
    linked = set(product["contact_id"].dropna())
    own = set(people.loc[people["user_id"].isna(), "person_id"])
    in_accounts = set(contacts.loc[contacts["company_id"].isin(set(ACCOUNTS.values())), "contact_id"])
    assert in_accounts <= linked | own
    assert not linked & own
    assert own <= in_accounts  # nobody else
    assert people["is_free_mail"].map(lambda v: isinstance(v, bool)).all()


RENDERINGS = (
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S"),
    lambda d: d.isoformat() + "+00:00",
)


@SLOW
@given(signups=st.lists(
    st.tuples(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
              st.sampled_from(range(len(RENDERINGS)))),
    min_size=1, max_size=6,
))
@example(signups=[(datetime(2026, 9, 1, 10), 0), (datetime(2026, 8, 1, 10, 0, 0, 123000), 1)])
def test_the_first_user_is_the_earliest_signup_however_each_time_is_written(signups: list) -> None:
    users = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(len(signups))], "workspace_id": "w1", "email": None, "name": None,
        "title": None, "role": None,
        "signed_up_at": [RENDERINGS[style](moment) for moment, style in signups],
    })
    empty_windows = pd.DataFrame(columns=["user_id", "events_28d", "invites_28d", "users_added_28d",
                                          "admin_changes_28d", "enterprise_page_views_28d"], dtype=object)
    no_contacts = pd.DataFrame(columns=["contact_id", "company_id", "email", "first_name", "last_name", "title"],
                               dtype=object)
    account_map = pd.DataFrame({"workspace_id": ["w1"], "account_id": ["c1"]})
    people = build_people(users, account_map, empty_windows, no_contacts).set_index("person_id")
    written = [  # the instant each time stands for as written (two renderings drop the microseconds)
        datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None) for text in users["signed_up_at"]
    ]
    first = {f"u{i}" for i, moment in enumerate(written) if moment == min(written)}
    assert set(people.index[people["is_first_user"]]) == first
