"""The product's event catalog (config/product_events.yaml): which events are features, signals, page views.

Rollups are generated from it, so adding a feature to the YAML adds it to feature breadth without code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pls_pipelines.lib.rules_config import config_error, load_yaml_config, shipped_config
from pls_pipelines.lib.sql_identifiers import RULE, is_identifier

DEFAULT_CATALOG = "product_events.yaml"


@dataclass(frozen=True)
class Feature:
    key: str
    events: tuple[str, ...]
    tier: str  # "core" | "advanced"


@dataclass(frozen=True)
class EventCatalog:
    features: tuple[Feature, ...]
    signals: dict[str, tuple[str, ...]]
    page_view_event: str
    page_name_property: str
    enterprise_pages: tuple[str, ...]

    def page_name(self, event: str, properties: dict) -> str | None:
        """Normalised page name of a page view ("Pricing" -> "pricing"), None for other events."""
        if event != self.page_view_event:
            return None
        value = properties.get(self.page_name_property) or properties.get("path")
        if not value:
            return None
        return str(value).strip().strip("/").lower() or None

    def signal_events(self, signal: str) -> tuple[str, ...]:
        return self.signals.get(signal, ())


def load_event_catalog(path: Path | None = None) -> EventCatalog:
    if path is None:
        path = shipped_config(DEFAULT_CATALOG)
    raw = load_yaml_config(path, "product_events.schema.json")
    for key in raw["features"]:  # a feature key names rollup columns (f_<key>, used_<key>): SQL text
        if not is_identifier(f"f_{key}"):
            raise config_error(path, raw, ["features", key], f"the feature key {key!r} cannot name a column",
                               f"use {RULE}")
    return EventCatalog(
        features=tuple(
            Feature(key, tuple(spec["events"]), spec.get("tier", "core"))
            for key, spec in raw["features"].items()
        ),
        signals={name: tuple(events) for name, events in raw.get("signals", {}).items()},
        page_view_event=raw.get("page_view_event", "Page Viewed"),
        page_name_property=raw.get("page_name_property", "name"),
        enterprise_pages=tuple(p.lower() for p in raw.get("enterprise_pages", [])),
    )
