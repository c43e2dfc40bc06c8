import pandas as pd

from pls_pipelines.lib.people import build_people


def test_users_and_contacts_become_one_person_per_email_with_behaviour_and_crm_titles():
    users = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "workspace_id": ["w1", "w1", "w1"],
            "email": ["Dana@Acme.com", "lee@acme.com", "sam@gmail.com"],
            "name": ["Dana", "Lee", "Sam"],
            "title": ["engineer", None, None],
            "role": ["owner", "member", "member"],
            "signed_up_at": ["2026-09-01T00:00:00Z", "2026-09-05T00:00:00Z", "2026-09-07T00:00:00Z"],
        }
    )
    account_map = pd.DataFrame({"workspace_id": ["w1"], "account_id": ["c1"]})
    windows = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "events_28d": [5, 50],
            "invites_28d": [0, 4],
            "users_added_28d": [0, 1],
            "admin_changes_28d": [0, 2],
            "enterprise_page_views_28d": [3, 0],
        }
    )
    contacts = pd.DataFrame(
        {
            "contact_id": ["k1", "k2", "k3"],
            "company_id": ["c1", "c1", "c9"],
            "email": ["dana@acme.com", "cfo@acme.com", "x@other.com"],
            "first_name": ["Dana", "Pat", "X"],
            "last_name": ["Ruiz", "Chen", "Y"],
            "title": ["VP Engineering", "CFO", "CEO"],
        }
    )
    people = build_people(users, account_map, windows, contacts).set_index("person_id")
    assert list(people.index) == ["k2", "u1", "u2", "u3"]  # k3 belongs to no account in scope
    assert people.loc["u1", "contact_id"] == "k1" and people.loc["u1", "title"] == "VP Engineering"
    assert people.loc["u2", "invites_sent_28d"] == 4 and people.loc["u2", "activity_rank"] == 1
    assert bool(people.loc["u1", "is_first_user"]) and not bool(people.loc["u2", "is_first_user"])
    assert bool(people.loc["u3", "is_free_mail"]) and people.loc["u3", "events_28d"] == 0
    assert people.loc["k2", "name"] == "Pat Chen" and pd.isna(people.loc["k2", "user_id"])
    assert pd.isna(people.loc["k2", "activity_rank"])
