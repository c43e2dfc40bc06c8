"""Title parsing with the shipped rules: real-world titles, abbreviations, prefixes, languages and traps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pls_pipelines.cli import main
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.lib.titles import (
    DEPARTMENTS,
    SENIORITY_LEVELS,
    classify_title,
    classify_titles,
    load_title_rules,
    normalize_title,
)


@pytest.fixture(scope="module")
def rules():
    return load_title_rules()


TITLES = [
    # C-level, founders, abbreviations
    ("CEO", "c_level", "executive"),
    ("Founder & CEO", "c_level", "executive"),
    ("Co-founder", "c_level", "executive"),
    ("Cofounder and CTO", "c_level", "engineering"),
    ("CTO", "c_level", "engineering"),
    ("CISO", "c_level", "security"),
    ("CFO", "c_level", "finance"),
    ("Chief Information Officer", "c_level", "it"),
    ("Chief Revenue Officer", "c_level", "sales"),
    ("Chief People Officer", "c_level", "hr"),
    ("President", "c_level", "executive"),
    ("Managing Director", "c_level", "executive"),
    ("Interim CFO", "c_level", "finance"),
    ("Owner", "c_level", "executive"),
    # VP
    ("VP Eng", "vp", "engineering"),
    ("VP, Engineering", "vp", "engineering"),
    ("SVP Sales", "vp", "sales"),
    ("EVP, Finance & Operations", "vp", "finance"),
    ("Vice-President of Marketing", "vp", "marketing"),
    ("Senior Vice President, Information Technology", "vp", "it"),
    ("vp of data", "vp", "data"),
    ("VP Finance", "vp", "finance"),
    # Head / Director
    ("Head of IT", "head", "it"),
    ("Acting Head of Sales", "head", "sales"),
    ("Head of Procurement", "head", "procurement"),
    ("Sr. Dir., R&D", "director", "engineering"),
    ("Dir. Product Management", "director", "product"),
    ("Director of Engineering", "director", "engineering"),
    ("Director, Security Operations", "director", "security"),
    # Managers
    ("EM", "manager", "engineering"),
    ("Engineering Manager", "manager", "engineering"),
    ("Mgr, IT", "manager", "it"),
    ("Marketing Manager", "manager", "marketing"),
    ("Revenue Operations Manager", "manager", "sales"),
    ("Team Lead - Data Platform", "manager", "data"),
    # ICs
    ("Staff Software Engineer", "senior_ic", "engineering"),
    ("Sr. Data Scientist", "senior_ic", "data"),
    ("Principal Architect", "senior_ic", "engineering"),
    ("Software Engineer", "ic", "engineering"),
    ("Founding Engineer", "ic", "engineering"),
    ("Financial Analyst", "ic", "finance"),
    ("Business Development Representative", "ic", "sales"),
    ("IT Administrator", "ic", "it"),
    ("Product Owner", "ic", "product"),
    ("UX Designer", "ic", "design"),
    ("Student", "ic", "unknown"),
    # Traps: senior words, junior jobs
    ("Assistant to the VP", "ic", "unknown"),
    ("Executive Assistant to the CEO", "ic", "executive"),
    ("Director of First Impressions", "ic", "operations"),
    ("Chief Happiness Officer", "ic", "unknown"),
    ("Director", "director", "unknown"),  # "cto" inside "director" must not fire
    # Non-English basics
    ("Directeur Informatique", "director", "it"),
    ("Directrice Financière", "director", "finance"),
    ("Président Directeur Général", "c_level", "executive"),
    ("Geschäftsführer", "c_level", "executive"),
    ("Geschaeftsfuehrerin", "c_level", "executive"),
    ("Leiterin Marketing", "head", "marketing"),
    ("Leiter IT", "head", "it"),
    ("Gerente de TI", "manager", "it"),
    ("Gerente General", "vp", "executive"),
    ("Jefe de Compras", "head", "procurement"),
    ("Vicepresidente de Ventas", "vp", "sales"),
    ("Responsable Marketing", "manager", "marketing"),
    ("Especialista em Dados", "ic", "data"),  # Portuguese "em" (= in) is not an engineering manager
    ("Einkaufsleiter", "head", "procurement"),  # German compounds
    ("Teamleiter Entwicklung", "manager", "engineering"),
    ("Softwareentwickler", "ic", "engineering"),
    ("DSI", "director", "it"),
    ("Directeur Technique", "director", "engineering"),
    ("Chef de projet", "manager", "unknown"),
    ("Développeuse", "ic", "engineering"),
    ("Líder de equipo", "manager", "unknown"),
]


@pytest.mark.parametrize(("title", "seniority", "department"), TITLES, ids=[t for t, _, _ in TITLES])
def test_real_world_titles(rules, title, seniority, department):
    parsed = classify_title(title, rules)
    assert (parsed.seniority, parsed.department) == (seniority, department), parsed.matched


def test_at_least_forty_titles_are_covered():
    assert len(TITLES) >= 40


@pytest.mark.parametrize("empty", [None, "", "   ", float("nan"), pd.NA])
def test_empty_title_is_unknown_not_ic(rules, empty):
    parsed = classify_title(empty, rules)
    assert (parsed.seniority, parsed.department, parsed.matched) == ("unknown", "unknown", [])


def test_matched_names_the_rules_that_fired(rules):
    assert classify_title("VP Eng", rules).matched == ["seniority:vp", "department:engineering"]
    assert classify_title("Assistant to the VP", rules).matched == ["seniority:assistant_to_an_executive"]


def test_normalized_form_rules_are_written_against():
    assert normalize_title("Sr. Dir., R&D") == "sr dir r and d"
    assert normalize_title("Co-Founder/CEO") == "co founder ceo"
    assert normalize_title("Geschäftsführerin") == "geschaftsfuhrerin"
    assert normalize_title("  VP   of  ENGINEERING ") == "vp of engineering"


def test_column_classification_matches_one_by_one(rules):
    titles = pd.Series(["CTO", None, "CTO", "Data Analyst"], index=[10, 11, 12, 13])
    parsed = classify_titles(titles, rules)
    assert list(parsed.index) == [10, 11, 12, 13]
    assert parsed["seniority"].tolist() == ["c_level", "unknown", "c_level", "ic"]
    assert parsed["department"].tolist() == ["engineering", "unknown", "engineering", "data"]


def _personas_with(tmp_path: Path, old: str, new: str) -> Path:
    text = shipped_config("personas.yaml").read_text(encoding="utf-8")
    assert old in text
    target = tmp_path / "personas.yaml"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def test_bad_regex_names_the_rule_the_key_and_the_line(tmp_path):
    path = _personas_with(tmp_path, "patterns: ['head', ", "patterns: ['head(', ")
    with pytest.raises(ConfigError) as err:
        load_title_rules(path)
    message = str(err.value)
    assert "titles.seniority[4].patterns[0] (rule 'head')" in message
    assert "bad regular expression 'head('" in message
    assert ", line " in message and "-- fix the pattern" in message


def test_duplicate_rule_names_are_refused(tmp_path):
    path = _personas_with(tmp_path, "- name: head\n", "- name: director\n")
    with pytest.raises(ConfigError, match=r"titles\.seniority\[5\]\.name.*'director' is already used"):
        load_title_rules(path)


def test_a_new_abbreviation_is_a_yaml_change(tmp_path):
    path = _personas_with(tmp_path, "'(s|e|a)?vp'", "'(s|e|a)?vp', 'rvp'")  # regional VP: not shipped
    assert classify_title("RVP", load_title_rules(path)).seniority == "vp"
    assert classify_title("RVP", load_title_rules()).seniority == "ic"


# Acceptance table (issue 5): data/job_titles.csv holds job-board style titles with the answer a RevOps person
# would give, written before running the classifier. Conventions used to decide the expected answers:
# - Department = the function the person works in: the head noun decides, qualifiers do not ("Product
#   Marketing Manager" is marketing, "Senior Technical Recruiter" is hr, "Brand Designer" is design).
# - "X and Y" / "X & Y" compounds: the first-named function decides ("Head of IT & Security" is it,
#   "VP Marketing & Sales" is marketing), unless one is clearly the main job: a specific function beats the
#   generic founder/CEO title ("Co-Founder & COO" is operations).
# - Seniority = the highest seniority word, and "Senior"/"Sr." before it does not change it ("Sr. Director"
#   is director, "Senior Product Manager" is manager). "Manager" in the title means manager, except the
#   entry-level "Associate Product Manager". "Team Lead" is manager; other leads, staff, principal and
#   architects are senior_ic. Interim/Acting/Deputy/Associate/Assistant keep the level of a head/director/VP
#   title; "Founding X" is an early employee at X's level, not a founder; a deputy chief is vp.
# - Customer success, revenue operations and pre-sales (Sales/Solutions Engineer) are sales; growth is
#   marketing; people operations is hr; GM is vp/executive; board members are c_level/executive.
# The note column says why for anything debatable; rows noted "held-out" were written and added after the
# rules were tuned on the rest, and were not tuned on (their failures are honest misses).
JOB_TITLES_CSV = Path(__file__).parent / "data" / "job_titles.csv"
MIN_ACCURACY = 0.95


def _job_titles() -> list[dict[str, str]]:
    with JOB_TITLES_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _misclassification_table(rows: list[dict[str, str]], rules) -> tuple[int, list[str]]:
    correct, failures = 0, []
    for row in rows:
        parsed = classify_title(row["title"], rules)
        expected = (row["seniority"], row["department"])
        got = (parsed.seniority, parsed.department)
        if got == expected:
            correct += 1
        else:
            failures.append(
                f"{row['title']!r:45} expected {'/'.join(expected):24} got {'/'.join(got):24} "
                f"rules {', '.join(parsed.matched) or '-'}"
            )
    return correct, failures


def test_job_board_titles_are_classified_at_least_95_percent_right(rules):
    rows = _job_titles()
    assert len(rows) >= 150
    assert len({row["title"] for row in rows}) == len(rows), "duplicate titles in job_titles.csv"
    correct, failures = _misclassification_table(rows, rules)
    accuracy = correct / len(rows)
    report = "\n".join(
        [f"title accuracy {accuracy:.1%} ({correct}/{len(rows)}); {len(failures)} misclassified:", *failures]
    )
    print(report)  # visible with -rP / -s even when the test passes
    assert accuracy >= MIN_ACCURACY, report


def test_job_title_table_uses_known_labels_and_covers_every_level_and_department():
    rows = _job_titles()
    seniorities = {row["seniority"] for row in rows}
    departments = [row["department"] for row in rows]
    assert seniorities <= set(SENIORITY_LEVELS) and set(departments) <= set(DEPARTMENTS)
    assert seniorities >= set(SENIORITY_LEVELS) - {"unknown"}
    thin = {d: departments.count(d) for d in DEPARTMENTS if d != "unknown" and departments.count(d) < 8}
    assert not thin, f"departments with fewer than 8 titles: {thin}"


def test_cli_classify_title_prints_seniority_department_and_matched_rules():
    result = CliRunner().invoke(main, ["classify-title", "VP Eng"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert set(parsed) == {"seniority", "department", "matched"}
    assert (parsed["seniority"], parsed["department"]) == ("vp", "engineering")
    assert parsed["matched"] == ["seniority:vp", "department:engineering"]
