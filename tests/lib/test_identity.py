from pathlib import Path

import pandas as pd
import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.identity import (
    NO_OVERRIDES,
    build_account_map,
    company_domain_index,
    company_domain_of,
    is_personal_domain,
    known_parent,
    load_identity_overrides,
    match_rates,
    normalize_domain,
    unused_overrides,
)
from pls_pipelines.lib.rules_config import shipped_config


def frames(members: dict[str, list[str]], explicit: dict[str, str] | None = None):
    """workspaces and users from {workspace_id: [emails]} (and {workspace_id: crm_company_id})."""
    explicit = explicit or {}
    workspaces = pd.DataFrame({"workspace_id": list(members), "crm_company_id": [explicit.get(w) for w in members]})
    users = pd.DataFrame(
        [(f"u{i}", w, e) for i, (w, e) in enumerate((w, e) for w, es in members.items() for e in es)],
        columns=["user_id", "workspace_id", "email"],
    )
    return workspaces, users


def crm(*rows) -> pd.DataFrame:
    """companies from (company_id, domain[, additional_domains]) tuples."""
    if any(len(r) == 3 for r in rows):
        rows = [(*r, None) if len(r) == 2 else r for r in rows]
        return pd.DataFrame(rows, columns=["company_id", "domain", "additional_domains"])
    return pd.DataFrame(rows, columns=["company_id", "domain"])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- domains ----------------------------------------------------------------------------------------------


def test_domain_normalisation():
    assert normalize_domain(" WWW.Acme.COM ") == "acme.com"
    assert normalize_domain("https://www.acme.com/about") == "acme.com"
    assert normalize_domain("http://Acme.com:8080/x?y=1") == "acme.com"
    assert normalize_domain("acme.com.") == "acme.com"
    assert normalize_domain(None) is None and normalize_domain("") is None and normalize_domain(float("nan")) is None
    assert normalize_domain("n/a") is None and normalize_domain("-") is None


def test_free_mail_and_disposable_domains_come_from_the_maintained_lists():
    assert is_personal_domain("gmail.com") and is_personal_domain("proton.me")
    assert is_personal_domain("mailinator.com")
    assert not is_personal_domain("acme.com")
    assert company_domain_of("Dana@GMAIL.com") is None
    assert company_domain_of("dana@Acme.com") == "acme.com"


def test_known_parent_maps_subdomains_to_the_most_specific_known_domain():
    known = frozenset({"acme.com", "eu.acme.com"})
    assert known_parent("eng.acme.com", known) == "acme.com"
    assert known_parent("x.eu.acme.com", known) == "eu.acme.com"
    assert known_parent("acme.com", known) == "acme.com"
    assert known_parent("eng.beta.io", known) == "eng.beta.io"  # unknown parent: left alone
    assert known_parent("acme.com", frozenset({"com"})) == "acme.com"  # a bare TLD is never a company


def test_crm_companies_with_several_domains_and_additional_domains():
    companies = crm(
        ("c1", "acme.com; www.acme.de, https://acme.io/", "acme.fr;acme.es"),
        ("c2", "globex.com  globex.net"),
        ("c3", "initech.com", None),
    )
    index = company_domain_index(companies)
    assert index.to_dict() == {
        "acme.com": "c1", "acme.de": "c1", "acme.io": "c1", "acme.fr": "c1", "acme.es": "c1",
        "globex.com": "c2", "globex.net": "c2", "initech.com": "c3",
    }


def test_a_primary_domain_beats_an_additional_one_then_the_lowest_id_and_free_mail_never_counts():
    companies = crm(("c1", "other.com", "acme.com"), ("c9", "acme.com"), ("c5", "dup.com"), ("c4", "dup.com"),
                    ("c7", "gmail.com"))
    index = company_domain_index(companies)
    assert index["acme.com"] == "c9" and index["dup.com"] == "c4"
    assert "gmail.com" not in index.index


# --- account map ------------------------------------------------------------------------------------------


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
    assert m.loc["w2", "member_count"] == 3 and m.loc["w2", "company_domain_members"] == 1
    rates = match_rates(m.reset_index(), users)
    assert rates == {"workspace_match_rate": 0.6, "user_match_rate": 0.6}


def test_an_explicit_id_the_crm_does_not_have_falls_back_to_the_domain():
    workspaces, users = frames({"w1": ["a@acme.com"]}, explicit={"w1": "  c404 "})
    m = build_account_map(workspaces, users, crm(("c1", "acme.com"))).set_index("workspace_id")
    assert m.loc["w1", "match_method"] == "email_domain" and m.loc["w1", "crm_company_id"] == "c1"


def test_free_mail_and_disposable_members_never_outvote_a_single_company_member():
    workspaces, users = frames({"w1": ["a@gmail.com", "b@gmail.com", "c@mailinator.com", "d@Acme.com"]})
    m = build_account_map(workspaces, users, crm(("c1", "acme.com"))).set_index("workspace_id")
    assert m.loc["w1", "crm_company_id"] == "c1" and m.loc["w1", "domain"] == "acme.com"
    assert m.loc["w1", "company_domain_members"] == 1 and m.loc["w1", "member_count"] == 4


def test_subdomains_count_for_their_known_parent_before_the_dominant_domain_is_chosen():
    # 2 x beta.io would beat each acme subdomain alone; together as acme.com they win 3:2.
    workspaces, users = frames(
        {"w1": ["a@eng.acme.com", "b@sales.acme.com", "c@acme.com", "d@beta.io", "e@beta.io"],
         "w2": ["f@eng.unknown.org", "g@eng.unknown.org"]}
    )
    m = build_account_map(workspaces, users, crm(("c1", "acme.com"))).set_index("workspace_id")
    assert m.loc["w1", "domain"] == "acme.com" and m.loc["w1", "crm_company_id"] == "c1"
    assert m.loc["w1", "company_domain_members"] == 5
    assert m.loc["w2", "domain"] == "eng.unknown.org" and m.loc["w2", "account_id"] == "ws:w2"


def test_a_tie_goes_to_the_domain_the_crm_knows():
    workspaces, users = frames({"w1": ["a@aaa.io", "b@zeta.com"]})
    m = build_account_map(workspaces, users, crm(("c1", "zeta.com"))).set_index("workspace_id")
    assert m.loc["w1", "crm_company_id"] == "c1" and m.loc["w1", "domain"] == "zeta.com"


def test_multi_domain_companies_match_on_any_of_their_domains():
    workspaces, users = frames({"w1": ["a@acme.de"], "w2": ["b@acme.io"], "w3": ["c@eu.acme.fr"]})
    companies = crm(("c1", "acme.com, acme.de", "acme.io; acme.fr"))
    m = build_account_map(workspaces, users, companies).set_index("workspace_id")
    assert (m["crm_company_id"] == "c1").all() and (m["match_method"] == "email_domain").all()
    assert m["is_consolidation"].all() and (m["workspace_count"] == 3).all()
    assert m.loc["w3", "domain"] == "acme.fr"


def test_unmatched_workspaces_keep_their_own_account_with_the_proposed_domain():
    workspaces, users = frames({"w1": ["a@beta.io", "b@beta.io"], "w2": ["c@beta.io"]})
    m = build_account_map(workspaces, users, crm(("c1", "acme.com"))).set_index("workspace_id")
    assert list(m["account_id"]) == ["ws:w1", "ws:w2"] and list(m["domain"]) == ["beta.io", "beta.io"]
    assert m["crm_company_id"].isna().all() and not m["is_consolidation"].any()
    assert (m["workspace_count"] == 1).all()


def test_workspaces_without_users_and_users_without_a_workspace():
    workspaces = pd.DataFrame({"workspace_id": ["w1", "w2"], "crm_company_id": [None, "c1"]})
    users = pd.DataFrame({"user_id": ["u1"], "workspace_id": ["w404"], "email": ["a@acme.com"]})
    m = build_account_map(workspaces, users, crm(("c1", "acme.com"))).set_index("workspace_id")
    assert m.loc["w1", "match_method"] == "unmatched" and m.loc["w1", "member_count"] == 0
    assert m.loc["w2", "match_method"] == "crm_id"


# --- overrides --------------------------------------------------------------------------------------------

OVERRIDES_YAML = """\
overrides:
  - workspace_id: w1
    crm_company_id: c3
    note: reseller email; belongs to Initech
  - domain: WWW.Acme-Labs.io
    crm_company_id: c1
"""
OVERRIDES_CSV = """\
workspace_id,domain,crm_company_id,note
w1,,c3,"reseller email, belongs to Initech"
,acme-labs.io,c1,
"""


@pytest.fixture(params=["yaml", "csv"])
def overrides_file(request, tmp_path) -> Path:
    text = OVERRIDES_YAML if request.param == "yaml" else OVERRIDES_CSV
    return write(tmp_path / f"overrides.{request.param}", text)


def test_csv_and_yaml_overrides_load_the_same_rows(overrides_file):
    overrides = load_identity_overrides(overrides_file)
    assert overrides.pins == {"w1": "c3"}
    assert overrides.aliases == {"acme-labs.io": "c1"}
    assert overrides.rows[0].note == ("reseller email; belongs to Initech" if overrides_file.suffix == ".yaml"
                                      else "reseller email, belongs to Initech")
    assert overrides.rows[1].location == f"{overrides_file}, line {5 if overrides_file.suffix == '.yaml' else 3}"
    assert overrides.source == str(overrides_file)


def test_a_workspace_pin_beats_the_explicit_id_and_the_domain_and_an_alias_matches_an_unknown_domain(
    overrides_file,
):
    workspaces, users = frames(
        {"w1": ["a@acme.com", "b@acme.com"], "w2": ["c@acme-labs.io", "d@eu.acme-labs.io"], "w3": ["e@beta.io"]},
        explicit={"w1": "c2"},
    )
    companies = crm(("c1", "acme.com"), ("c2", "globex.com"), ("c3", "initech.com"))
    m = build_account_map(workspaces, users, companies, load_identity_overrides(overrides_file))
    m = m.set_index("workspace_id")
    assert m.loc["w1", "crm_company_id"] == "c3" and m.loc["w1", "match_method"] == "override"
    assert m.loc["w2", "crm_company_id"] == "c1" and m.loc["w2", "match_method"] == "override_domain"
    assert m.loc["w2", "domain"] == "acme-labs.io"  # the subdomain counted for the aliased parent
    assert m.loc["w3", "match_method"] == "unmatched"
    without = build_account_map(workspaces, users, companies).set_index("workspace_id")
    assert without.loc["w1", "crm_company_id"] == "c2" and without.loc["w2", "match_method"] == "unmatched"


def test_an_alias_never_overrules_a_domain_the_crm_lists_and_unused_rows_are_reported(tmp_path):
    path = write(tmp_path / "o.csv", "domain,workspace_id,crm_company_id\nacme.com,,c2\n,w404,c1\nbeta.io,,c2\n")
    overrides = load_identity_overrides(path)
    workspaces, users = frames({"w1": ["a@acme.com"], "w2": ["b@beta.io"]})
    m = build_account_map(workspaces, users, crm(("c1", "acme.com"), ("c2", "globex.com")), overrides)
    assert m.set_index("workspace_id").loc["w1", "crm_company_id"] == "c1"
    unused = unused_overrides(m, overrides)
    assert [(r.domain, r.workspace_id) for r in unused] == [("acme.com", None), (None, "w404")]


def test_an_override_naming_a_company_the_crm_does_not_have_names_the_file_row_and_fix(overrides_file):
    workspaces, users = frames({"w1": ["a@acme.com"]})
    with pytest.raises(ConfigError) as caught:
        build_account_map(workspaces, users, crm(("c1", "acme.com"), ("c2", "globex.com")),
                          load_identity_overrides(overrides_file))
    message = str(caught.value)
    assert f"{overrides_file}, line 2" in message
    assert "'c3' is not a company in the CRM" in message
    assert "crm_company_id" in message and "use the company_id of an existing CRM company" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workspace_id,crm_company_id\nw1,\n", ["line 2", "crm_company_id: missing"]),
        ("workspace_id,domain,crm_company_id\nw1,acme.com,c1\n", ["line 2", "both workspace_id and domain"]),
        ("workspace_id,domain,crm_company_id\n\n,,c1\n", ["line 3", "neither workspace_id nor domain"]),
        ("domain,crm_company_id\nnot a domain,c1\n", ["line 2", "'not a domain' is not a domain", "acme.com"]),
        ("domain,crm_company_id\nGmail.com,c1\n", ["line 2", "free-mail", "pin their workspaces"]),
        ("workspace_id,crm_company_id\nw1,c1\nw1,c2\n", ["line 3", "already assigned to 'c1'", "line 2"]),
        ("workspace_id,company\nw1,c1\n", ["line 1", "missing columns"]),
        ("workspace_id,crm_company_id,notes\nw1,c1,x\n", ["line 1", "unknown column 'notes'", "did you mean 'note'"]),
        ("workspace_id,crm_company_id\nw1,c1,Acme, Inc.\n", ["line 2", "more values than columns"]),
    ],
)
def test_malformed_csv_rows_name_the_line_and_the_fix(tmp_path, text, expected):
    path = write(tmp_path / "overrides.csv", text)
    with pytest.raises(ConfigError) as caught:
        load_identity_overrides(path)
    message = str(caught.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_malformed_yaml_rows_name_the_line_key_and_fix(tmp_path):
    path = write(tmp_path / "o.yaml", "overrides:\n  - workspace_id: w1\n    crm_company_id: c1\n  - domain: x\n"
                                      "    crm_company_id: c1\n")
    with pytest.raises(ConfigError, match=r"o\.yaml, line 4: overrides\[1\]\.domain: 'x' is not a domain"):
        load_identity_overrides(path)
    typo = write(tmp_path / "t.yaml", "overrides:\n  - workspace_id: w1\n    crm_company: c1\n")
    with pytest.raises(ConfigError, match=r"t\.yaml, line 3: .*unknown key 'crm_company'.*crm_company_id"):
        load_identity_overrides(typo)


def test_overrides_file_type_missing_file_and_unset(tmp_path):
    assert load_identity_overrides(None) is NO_OVERRIDES and load_identity_overrides("") is NO_OVERRIDES
    with pytest.raises(ConfigError, match=r"PLS_IDENTITY_OVERRIDES=.*\.json.*\*\.csv or \*\.yaml"):
        load_identity_overrides(tmp_path / "o.json")
    with pytest.raises(ConfigError, match="file not found -- check PLS_IDENTITY_OVERRIDES"):
        load_identity_overrides(tmp_path / "missing.csv")
    assert load_identity_overrides(write(tmp_path / "empty.csv", "workspace_id,crm_company_id\n")).rows == ()


def test_the_shipped_example_is_a_valid_overrides_file():
    overrides = load_identity_overrides(shipped_config("identity_overrides.example.yaml"))
    assert overrides.pins == {"ws_00042": "1001"} and overrides.aliases == {"acme-labs.io": "1001"}


# --- match rates ------------------------------------------------------------------------------------------


def test_match_rates_cover_workspaces_users_and_events():
    account_map = pd.DataFrame({"workspace_id": ["w1", "w2", "w3", "w4"], "crm_company_id": ["c1", None, "c2", None]})
    users = pd.DataFrame({"workspace_id": ["w1", "w1", "w1", "w2", "w3", "w4", "w4", "w4"]})
    events = pd.DataFrame({"workspace_id": ["w1", "w1", "w2", "w3", "w4", "w9"], "events": [50, 20, 10, 5, 10, 5]})
    rates = match_rates(account_map, users, events)
    assert rates == {"workspace_match_rate": 0.5, "user_match_rate": 0.5, "event_match_rate": 0.75}
    assert "event_match_rate" not in match_rates(account_map, users)
    assert match_rates(account_map, users, events.iloc[:0])["event_match_rate"] == 0.0


def test_an_empty_yaml_overrides_list_is_no_overrides(tmp_path):
    assert load_identity_overrides(write(tmp_path / "o.yml", "overrides:\n")).rows == ()
