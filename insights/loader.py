"""Reading and validating a rules file (TOML), with errors that name the file and the line.

Layout (insights/profiles/default.toml is the reference)::

    [panel]                 # optional
    hold_s = 5              # hysteresis: seconds an insight stays after its rule stops holding
    max_cards = 3
    [calibration]           # optional, used by --rules-profile calibrated
    window_s = 3600         # percentiles over this many past seconds of the symbol's own frames
    min_samples = 60        # fewer past values: the calibrated threshold is unknown (rule off)

    [[rule]]
    id = 1
    name = "wide_spread"
    when = "spread_bps > 6"            # or "velocity_3s > 2 x velocity_baseline"
    priority = "HIGH"                  # HIGH, MEDIUM or LOW
    percentile = 90                    # optional: calibrated threshold = this percentile
    calibrate_on = "spread_ticks"      # optional: the metric the calibrated profile compares
    insight = "Spread is {spread_bps:.1f} bps"   # fields: any metric of insights/metrics.py
    action = "..."
    how_to_overcome = "..."
    expected_impact = "..."

``tomllib`` reports no line numbers for values, so a bad entry is located in the raw text: the
``key =`` line inside the offending ``[[rule]]`` block (or the block's header).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from insights.metrics import NUMERIC_METRICS, SIGNAL_TEXTS, TEMPLATE_NAMES
from insights.rules import PRIORITIES, TEXT_FIELDS, Condition, ConditionError, Rule, template_fields

DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "profiles" / "default.toml"
_RULE_KEYS = frozenset({"id", "name", "when", "priority", "percentile", "calibrate_on",
                        *TEXT_FIELDS})
_REQUIRED = ("id", "name", "when", "priority", *TEXT_FIELDS)


class RulesError(ValueError):
    """A rules file cannot be used; the message is one line: ``FILE:LINE: what is wrong``."""


@dataclass(frozen=True, slots=True)
class RuleBook:
    """The validated rules of one file plus the panel and calibration settings."""

    rules: tuple[Rule, ...]
    source: str
    hold_s: float = 5.0
    max_cards: int = 3
    window_s: int = 3600
    min_samples: int = 60

    def by_id(self, rule_id: int) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)


@lru_cache(maxsize=1)
def default_rules() -> RuleBook:
    """The shipped default profile (the brief's ten rules and the liquidity rules)."""
    return load_rules(DEFAULT_RULES_PATH)


def load_rules(path: Path) -> RuleBook:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str) -> RuleBook:
    """Validate ``text`` (the contents of ``source``); raises ``RulesError``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        raise RulesError(f"{source}:{line[1] if line else 1}: not valid TOML: {exc}") from None
    where = _Locator(text, source)
    unknown = set(doc) - {"rule", "panel", "calibration"}
    if unknown:
        name = min(unknown)
        raise where.error(None, name, f"unknown section or key {name!r}; expected [[rule]], "
                          "[panel], [calibration]")
    entries = doc.get("rule", [])
    if not isinstance(entries, list) or not entries:
        raise RulesError(f"{source}:1: no [[rule]] entries")
    rules: list[Rule] = []
    seen: set[int] = set()
    for index, entry in enumerate(entries):
        rule = _rule(entry, index, where)
        if rule.id in seen:
            raise where.error(index, "id", f"duplicate rule id {rule.id}")
        seen.add(rule.id)
        rules.append(rule)
    panel = _settings(doc.get("panel", {}), "panel", {"hold_s": 5.0, "max_cards": 3}, where)
    calib = _settings(doc.get("calibration", {}), "calibration",
                      {"window_s": 3600, "min_samples": 60}, where)
    return RuleBook(tuple(rules), source, hold_s=float(panel["hold_s"]),
                    max_cards=int(panel["max_cards"]), window_s=int(calib["window_s"]),
                    min_samples=int(calib["min_samples"]))


def _rule(entry: Any, index: int, where: _Locator) -> Rule:
    if not isinstance(entry, dict):
        raise where.error(index, None, "a rule must be a [[rule]] table")
    for key in entry:
        if key not in _RULE_KEYS:
            raise where.error(index, key, f"unknown key {key!r} in a rule; known: "
                              f"{', '.join(sorted(_RULE_KEYS))}")
    for key in _REQUIRED:
        if key not in entry:
            raise where.error(index, None, f"rule is missing {key!r}")
    rule_id = entry["id"]
    if not isinstance(rule_id, int) or isinstance(rule_id, bool) or rule_id <= 0:
        raise where.error(index, "id", f"id must be a positive whole number, got {rule_id!r}")
    for key in ("name", "when", *TEXT_FIELDS):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise where.error(index, key, f"rule {rule_id}: {key} must be a non-empty string")
    if entry["priority"] not in PRIORITIES:
        raise where.error(index, "priority", f"rule {rule_id}: bad priority "
                          f"{entry['priority']!r}; use one of {', '.join(PRIORITIES)}")
    condition = _condition(entry["when"], rule_id, index, where)
    percentile = _percentile(entry.get("percentile"), condition, rule_id, index, where)
    calibrate_on = entry.get("calibrate_on")
    if calibrate_on is not None:
        if percentile is None:
            raise where.error(index, "calibrate_on", f"rule {rule_id}: calibrate_on needs a "
                              "percentile")
        _check_metric(calibrate_on, rule_id, index, where, "calibrate_on")
    for key in TEXT_FIELDS:
        _check_template(entry[key], key, rule_id, index, where)
    return Rule(rule_id, entry["name"], condition, entry["priority"], entry["insight"],
                entry["action"], entry["how_to_overcome"], entry["expected_impact"], percentile,
                calibrate_on)


def _condition(when: str, rule_id: int, index: int, where: _Locator) -> Condition:
    try:
        condition = Condition.parse(when)
    except ConditionError as exc:
        raise where.error(index, "when", f"rule {rule_id}: {exc}") from None
    for name in condition.metrics:
        _check_metric(name, rule_id, index, where, "when")
    return condition


def _check_metric(name: Any, rule_id: int, index: int, where: _Locator, key: str) -> None:
    if name in SIGNAL_TEXTS:
        raise where.error(index, key, f"rule {rule_id}: {name!r} is text, not a number; "
                          "use it in templates only")
    if name not in NUMERIC_METRICS:
        raise where.error(index, key, f"rule {rule_id}: unknown metric {name!r}; "
                          f"known: {', '.join(sorted(NUMERIC_METRICS))}")


def _percentile(value: Any, condition: Condition, rule_id: int, index: int,
                where: _Locator) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
        raise where.error(index, "percentile", f"rule {rule_id}: percentile must be a number "
                          f"between 0 and 100 (exclusive), got {value!r}")
    if condition.other is not None:
        raise where.error(index, "percentile", f"rule {rule_id}: a 'k x other' condition is "
                          "already relative; percentile applies to fixed thresholds only")
    return float(value)


def _check_template(template: str, key: str, rule_id: int, index: int, where: _Locator) -> None:
    try:
        fields = template_fields(template)
    except ValueError as exc:
        raise where.error(index, key, f"rule {rule_id}: bad template in {key}: {exc}") from None
    for name, spec in fields:
        if name not in TEMPLATE_NAMES:
            raise where.error(index, key, f"rule {rule_id}: unknown field {{{name}}} in {key}")
        sample: object = "bid" if name in SIGNAL_TEXTS else 1.0
        try:
            format(sample, spec)
        except ValueError as exc:
            raise where.error(index, key, f"rule {rule_id}: bad format {{{name}:{spec}}} in "
                              f"{key}: {exc}") from None


def _settings(values: Any, section: str, defaults: dict[str, float], where: _Locator,
              ) -> dict[str, float]:
    if not isinstance(values, dict):
        raise where.error(None, section, f"[{section}] must be a table")
    out = dict(defaults)
    for key, value in values.items():
        if key not in defaults:
            raise where.error(None, key, f"unknown key {key!r} in [{section}]; known: "
                              f"{', '.join(defaults)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise where.error(None, key, f"[{section}] {key} must be a positive number")
        out[key] = value
    return out


class _Locator:
    """Finds the line of a rule's key in the raw text (1-based)."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.headers = [i for i, line in enumerate(self.lines)
                        if re.match(r"\s*\[\[\s*rule\s*\]\]", line)]
        # Any table header ends a rule's block (a [panel] may sit between rules).
        self.tables = [i for i, line in enumerate(self.lines) if re.match(r"\s*\[", line)]

    def line_of(self, index: int | None, key: str | None) -> int:
        if index is None or index >= len(self.headers):
            start, end = 0, len(self.lines)
        else:
            start = self.headers[index]
            end = next((i for i in self.tables if i > start), len(self.lines))
        if key is not None:
            pattern = re.compile(rf"\s*(\[\s*)?\"?{re.escape(key)}\"?\s*[=\]]")
            for i in range(start, end):
                if pattern.match(self.lines[i]):
                    return i + 1
        return start + 1

    def error(self, index: int | None, key: str | None, message: str) -> RulesError:
        return RulesError(f"{self.source}:{self.line_of(index, key)}: {message}")
