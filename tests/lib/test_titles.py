"""Title parsing with the shipped rules: real-world titles, abbreviations, prefixes, languages and traps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.lib.titles import classify_title, classify_titles, load_title_rules, normalize_title


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
    path = _personas_with(tmp_path, "'(s|e|a)?vp'", "'(s|e|a)?vp', 'vpe'")
    assert classify_title("VPE", load_title_rules(path)).seniority == "vp"
    assert classify_title("VPE", load_title_rules()).seniority == "ic"
