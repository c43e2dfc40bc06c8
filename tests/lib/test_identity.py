import pandas as pd

from pls_pipelines.lib.identity import (
    build_account_map,
    company_domain_of,
    is_personal_domain,
    match_rates,
    normalize_domain,
)


def test_domain_normalisation():
    assert normalize_domain(" WWW.Acme.COM ") == "acme.com"
    assert normalize_domain("https://www.acme.com/about") == "acme.com"
    assert normalize_domain(None) is None and normalize_domain("") is None


def test_free_mail_and_disposable_domains_come_from_the_maintained_lists():
    assert is_personal_domain("gmail.com") and is_personal_domain("proton.me")
    assert is_personal_domain("mailinator.com")
    assert not is_personal_domain("acme.com")
    assert company_domain_of("Dana@GMAIL.com") is None
    assert company_domain_of("dana@Acme.com") == "acme.com"


def test_account_map_prefers_crm_id_then_dominant_company_domain_and_never_free_mail():
    workspaces = pd.DataFrame(
        {
            "workspace_id": ["w1", "w2", "w3", "w4", "w5"],
            "crm_company_id": ["c2", None, None, None, None],
        }
    )
    users = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(10)],
            "workspace_id": ["w1", "w1", "w2", "w2", "w2", "w3", "w3", "w3", "w4", "w5"],
            "email": [
                "a@acme.com",
                "b@acme.com",  # w1: explicit id c2 wins over acme.com
                "c@acme.com",
                "d@gmail.com",
                "e@gmail.com",  # w2: gmail majority ignored -> acme
                "f@beta.io",
                "g@beta.io",
                "h@other.org",  # w3: dominant beta.io, not in CRM
                "i@yahoo.com",  # w4: only free-mail -> unmatched
                "j@ACME.com",
            ],  # w5: acme again -> consolidation
        }
    )
    companies = pd.DataFrame({"company_id": ["c1", "c2"], "domain": ["www.acme.com", "globex.com"]})
    m = build_account_map(workspaces, users, companies).set_index("workspace_id")
    assert m.loc["w1", "account_id"] == "c2" and m.loc["w1", "match_method"] == "crm_id"
    assert m.loc["w2", "account_id"] == "c1" and m.loc["w2", "match_method"] == "email_domain"
    assert m.loc["w3", "account_id"] == "ws:w3" and m.loc["w3", "domain"] == "beta.io"
    assert m.loc["w4", "match_method"] == "unmatched" and pd.isna(m.loc["w4", "domain"])
    assert bool(m.loc["w2", "is_consolidation"]) and bool(m.loc["w5", "is_consolidation"])
    assert not bool(m.loc["w3", "is_consolidation"])
    rates = match_rates(m.reset_index(), users)
    assert rates == {"workspace_match_rate": 0.6, "user_match_rate": 0.6}
