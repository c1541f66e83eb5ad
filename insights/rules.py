"""The rule model: a condition on one frame's values, a priority and four plain-language texts.

A condition is data, never code: ``metric op threshold`` (``spread_bps > 6``) or ``metric op k x
other_metric`` (``velocity_3s > 2 x velocity_baseline``), with ``op`` one of ``>``, ``>=``,
``<``, ``<=``. It holds when every value it names is present (not ``None``) and the comparison is
true. ``effective_threshold`` is the number the metric is compared with on one frame, which the
frame publishes (``conditions``) so anyone can re-check ``rules`` from the frame alone.
"""

from __future__ import annotations

import operator
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Priority = Literal["HIGH", "MEDIUM", "LOW"]
PRIORITIES: tuple[Priority, ...] = ("HIGH", "MEDIUM", "LOW")  # display order, highest first
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
TEXT_FIELDS = ("insight", "action", "how_to_overcome", "expected_impact")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_WHEN = re.compile(rf"^\s*(?P<metric>{_NAME})\s*(?P<op>[<>=!]+)\s*(?P<rhs>.*?)\s*$")
_RELATIVE = re.compile(rf"^(?P<k>{_NUMBER})\s*[x*]\s*(?P<other>{_NAME})$")


class ConditionError(ValueError):
    """A ``when`` string that is not ``metric op threshold`` or ``metric op k x other``."""


@dataclass(frozen=True, slots=True)
class Condition:
    """``metric op threshold`` when ``other`` is None, else ``metric op k x other``."""

    metric: str
    op: str
    threshold: float | None = None
    k: float | None = None
    other: str | None = None

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse ``when``; raises ``ConditionError`` naming what is wrong (no eval)."""
        match = _WHEN.match(text)
        if match is None:
            raise ConditionError(f"cannot read condition {text!r}: expected 'metric op "
                                 "threshold' or 'metric op k x other_metric'")
        metric, op, rhs = match["metric"], match["op"], match["rhs"]
        if op not in OPERATORS:
            raise ConditionError(f"bad operator {op!r} in {text!r}: use one of "
                                 f"{', '.join(OPERATORS)}")
        if re.fullmatch(_NUMBER, rhs):
            return cls(metric, op, threshold=float(rhs))
        relative = _RELATIVE.match(rhs)
        if relative is None:
            raise ConditionError(f"cannot read the right-hand side {rhs!r} of {text!r}: "
                                 "expected a number or 'k x other_metric'")
        return cls(metric, op, k=float(relative["k"]), other=relative["other"])

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) if self.other is None else (self.metric, self.other)

    def effective_threshold(self, values: Mapping[str, Any]) -> float | None:
        """What ``metric`` is compared with on these values: the fixed threshold, or ``k x
        other``; ``None`` when ``other`` is unknown."""
        if self.other is None:
            return self.threshold
        other = values.get(self.other)
        return None if other is None else self.k * float(other)  # type: ignore[operator]

    def holds(self, values: Mapping[str, Any], threshold: float | None,
              metric: str | None = None) -> bool:
        """True when ``metric`` (default: the condition's) and ``threshold`` are known and
        compare true."""
        value = values.get(metric or self.metric)
        if value is None or threshold is None:
            return False
        return OPERATORS[self.op](float(value), threshold)

    def __str__(self) -> str:
        rhs = f"{self.threshold:g}" if self.other is None else f"{self.k:g} x {self.other}"
        return f"{self.metric} {self.op} {rhs}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a rules file. ``percentile`` is the threshold the calibrated profile uses
    (the metric's own recent percentile); ``None`` keeps ``threshold`` in both profiles.
    ``calibrate_on`` names the metric the calibrated profile compares instead (same operator),
    for a metric whose percentiles mislead: a one-tick ``spread_bps`` drifts with the price, so
    the spread rules calibrate on ``spread_ticks``."""

    id: int
    name: str
    condition: Condition
    priority: Priority
    insight: str
    action: str
    how_to_overcome: str
    expected_impact: str
    percentile: float | None = None
    calibrate_on: str | None = None

    @property
    def calibrated_metric(self) -> str:
        return self.calibrate_on or self.condition.metric

    def texts(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The four texts with their ``{metric:spec}`` fields filled from ``values``."""
        return {name: fill(getattr(self, name), values) for name in TEXT_FIELDS}


class _NullSafe(string.Formatter):
    """``{x:.1f}`` of ``None`` (or of a name the values lack) reads ``n/a`` instead of
    raising: a card must never take the frame down."""

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        return kwargs.get(key) if isinstance(key, str) else None

    def format_field(self, value: Any, format_spec: str) -> Any:
        if value is None:
            return "n/a"
        return super().format_field(value, format_spec)


_FORMATTER = _NullSafe()


def fill(template: str, values: Mapping[str, Any]) -> str:
    return _FORMATTER.vformat(template, (), values)


def template_fields(template: str) -> list[tuple[str, str]]:
    """``(field name, format spec)`` of every replacement field in ``template``."""
    return [(name, spec or "") for _, name, spec, _ in string.Formatter().parse(template)
            if name is not None]
