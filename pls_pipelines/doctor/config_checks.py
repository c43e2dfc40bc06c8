"""1. Configuration: the environment settings that are not connections, the rule files and the identity
overrides - everything the pipeline loads before it touches the warehouse or the CRM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pls_pipelines.doctor.report import FAIL, OK, Check, first_line
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.settings import Settings, load_settings


def check_settings(env: Mapping[str, str]) -> tuple[Settings | None, list[Check]]:
    """The environment variables that are not connections: CRM kind, usage source, schedule, freshness windows.
    One FAIL per bad variable (all of them, not just the first), or one ok line describing the deployment."""
    from pls_pipelines.resources.crm import SUPPORTED_CRMS
    from pls_pipelines.resources.usage_source import SOURCE_KINDS
    from pls_pipelines.settings import freshness_hours, schedule_hour, schedule_timezone, source_max_age_hours

    try:
        settings = load_settings(env)
    except Exception as exc:  # load_settings only reads strings; anything here is a bug worth showing as such
        return None, [Check("settings", FAIL, f"the settings do not load: {first_line(exc)}",
                            "check the PLS_* variables (`pls --help` lists them)")]
    problems: list[Check] = []
    crm_kind = (settings.crm_kind or "").strip().lower()
    if crm_kind not in SUPPORTED_CRMS:
        problems.append(Check("settings", FAIL, f"PLS_CRM={settings.crm_kind!r} is not a CRM pls-pipelines knows",
                              f"set PLS_CRM to one of: {', '.join(SUPPORTED_CRMS)} (unset: local)"))
    source = (env.get("PLS_USAGE_SOURCE") or "files").strip()
    if source not in SOURCE_KINDS:
        problems.append(Check("settings", FAIL, f"PLS_USAGE_SOURCE={source!r} is not a usage source",
                              "set PLS_USAGE_SOURCE=files (a landing folder, PLS_USAGE_PATH) or warehouse "
                              "(PLS_USAGE_EVENTS_TABLE, PLS_USAGE_WORKSPACES_TABLE, PLS_USAGE_USERS_TABLE)"))
    elif source == "warehouse":
        missing = [v for v in ("PLS_USAGE_EVENTS_TABLE", "PLS_USAGE_WORKSPACES_TABLE", "PLS_USAGE_USERS_TABLE")
                   if not env.get(v)]
        if missing:
            problems.append(Check("settings", FAIL, f"PLS_USAGE_SOURCE=warehouse but {', '.join(missing)} unset",
                                  f"export {missing[0]}=schema.table (the table or view to read), or "
                                  f"PLS_USAGE_SOURCE=files"))
    validators: list[tuple[str, Callable[[], object]]] = [
        ("PLS_SCHEDULE_TIMEZONE", lambda: schedule_timezone(env)),
        ("PLS_SCHEDULE_HOUR", lambda: schedule_hour(env)),
        ("PLS_FRESHNESS_USAGE_HOURS", lambda: freshness_hours("usage", env)),
        ("PLS_FRESHNESS_SCORES_HOURS", lambda: freshness_hours("scores", env)),
        ("PLS_FRESHNESS_SYNC_HOURS", lambda: freshness_hours("sync", env)),
        ("PLS_SOURCE_MAX_AGE_HOURS", lambda: source_max_age_hours(env)),
    ]
    for variable, validate in validators:
        try:
            validate()
        except ConfigError as exc:
            problems.append(Check("settings", FAIL, str(exc), f"change {variable}, or unset it for the default"))
    if problems:
        return settings, problems
    alerts = ("alerts to Slack" if env.get("PLS_SLACK_WEBHOOK_URL")
              else "alerts logged only (PLS_SLACK_WEBHOOK_URL unset)")
    detail = (f"PLS_HOME={settings.home.resolve()}, CRM {crm_kind}, usage from {source}, daily at "
              f"{schedule_hour(env):02d}:00 {schedule_timezone(env)}, {alerts}")
    return settings, [Check("settings", OK, detail)]


@dataclass(frozen=True)
class _RuleFile:
    kind: str
    file: str  # the shipped file's name, also the check's name: the file RevOps edits
    variable: str | None  # the variable pointing at a deployment's own copy


# routing first: the scoring models' segment overrides are checked against its segments
RULE_FILES = (
    _RuleFile("routing", "routing.yaml", "PLS_ROUTING_CONFIG"),
    _RuleFile("scoring", "scoring_models.yaml", "PLS_SCORING_CONFIG"),
    _RuleFile("personas", "personas.yaml", "PLS_PERSONAS_CONFIG"),
    _RuleFile("crm_fields", "crm_fields.yaml", "PLS_CRM_FIELDS_CONFIG"),
    _RuleFile("product_events", "product_events.yaml", None),
)


def check_rules(env: Mapping[str, str]) -> tuple[list[Check], Any]:
    """Load and validate every rule file the pipeline would load (RulesResource, from the same variables), one
    line each. Returns the checks and the CRM field map (None when crm_fields.yaml is broken)."""
    from pls_pipelines.resources.rules import RulesResource

    rules = RulesResource.from_environment(env)
    checks: list[Check] = []
    loaded: dict[str, Any] = {}
    for rule in RULE_FILES:
        own = env.get(rule.variable) if rule.variable else None
        where = own or "shipped default"
        try:
            if rule.kind == "scoring" and "routing" not in loaded:
                # routing.yaml is broken (reported above): check the models alone rather than repeat its error
                from pls_pipelines.lib.scoring_config import load_scoring_config

                value = load_scoring_config(Path(own) if own else None)
            else:
                value = {"routing": rules.routing, "scoring": rules.scoring, "personas": rules.personas,
                         "crm_fields": rules.crm_fields, "product_events": rules.catalog}[rule.kind]()
        except ConfigError as exc:
            if own:
                fix = f"correct the key named above in {own}, or unset {rule.variable} to use the shipped {rule.file}"
            elif rule.variable:
                fix = (f"restore pls_pipelines/config/{rule.file} (it ships with the package), or point "
                       f"{rule.variable} at a corrected copy")
            else:
                fix = f"restore pls_pipelines/config/{rule.file} (it ships with the package)"
            checks.append(Check(rule.file, FAIL, str(exc), fix))
            continue
        loaded[rule.kind] = value
        try:
            summary = _describe_rules(rule.kind, value)
        except Exception:  # a summary is a courtesy: the file loaded, which is what the check is about
            summary = "valid"
        checks.append(Check(rule.file, OK, f"{where}: {summary}"))
    checks.append(_check_identity_overrides(rules, env))
    return checks, loaded.get("crm_fields")


def _describe_rules(kind: str, value: Any) -> str:
    if kind == "routing":
        return f"{len(value.segments)} segments ({', '.join(value.segments)}), {len(value.rules)} motion rules"
    if kind == "scoring":
        return f"{len(value.models)} models ({', '.join(value.models)}), primary {', '.join(value.primary_models)}"
    if kind == "personas":
        titles = len(value.titles.seniority) + len(value.titles.departments)
        return f"{titles} title rules, {len(value.signals)} behavioural signals"
    if kind == "crm_fields":
        counts = ", ".join(f"{len(o.fields)} on {t}" for t, o in value.objects.items())
        return f"property group {value.group_name!r}, pls_* fields: {counts}"
    if kind == "product_events":
        return f"{len(value.features)} features, {len(value.signals)} signals"
    return "valid"


def _check_identity_overrides(rules: Any, env: Mapping[str, str]) -> Check:
    path = env.get("PLS_IDENTITY_OVERRIDES")
    if not path:
        return Check("identity overrides", OK, "none (PLS_IDENTITY_OVERRIDES unset)")
    try:
        overrides = rules.identity()
    except ConfigError as exc:
        return Check("identity overrides", FAIL, str(exc),
                     f"correct the row named above in {path}, or unset PLS_IDENTITY_OVERRIDES")
    return Check("identity overrides", OK, f"{path}: {len(overrides.rows)} rows (their company ids are checked "
                 "against the CRM when account_map runs)")
