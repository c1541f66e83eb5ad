"""One symbol's decision layer: which rules hold on a frame, the conditions used, the cards.

``evaluate`` runs once per second in ``SymbolState.cut_frame`` on the frame's own values (top
level metrics plus ``signals``), and returns with ``rules`` the exact comparison made for every
rule (``conditions``: metric, operator, threshold value), so ``rules`` can be re-checked from the
frame alone: ``id in rules`` iff ``value(metric)`` and ``value`` are non-null and compare true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from insights.calibration import Calibrator
from insights.loader import RuleBook
from insights.panel import InsightPanel
from insights.rules import Rule

Profile = Literal["default", "calibrated"]
PROFILES: tuple[Profile, ...] = ("default", "calibrated")


@dataclass(frozen=True, slots=True)
class Decision:
    rules: list[int]
    insights: list[dict[str, Any]]
    conditions: dict[str, dict[str, Any]]


class DecisionLayer:
    __slots__ = ("book", "calibrator", "panel", "profile")

    def __init__(self, book: RuleBook, profile: Profile = "default") -> None:
        self.book = book
        self.profile = profile
        self.panel = InsightPanel(book.hold_s, book.max_cards)
        self.calibrator = (Calibrator(book.rules, book.window_s, book.min_samples)
                           if profile == "calibrated" else None)

    def evaluate(self, ts: float, values: Mapping[str, Any]) -> Decision:
        """Rules holding on ``values`` (the frame at ``ts``), their cards and conditions."""
        calibrated = ({} if self.calibrator is None
                      else self.calibrator.thresholds(self.book.rules))
        holding: list[Rule] = []
        conditions: dict[str, dict[str, Any]] = {}
        for rule in self.book.rules:
            if rule.id in calibrated:
                metric, threshold = rule.calibrated_metric, calibrated[rule.id]
            else:
                metric = rule.condition.metric
                threshold = rule.condition.effective_threshold(values)
            conditions[str(rule.id)] = {"metric": metric, "op": rule.condition.op,
                                        "value": threshold}
            if rule.condition.holds(values, threshold, metric):
                holding.append(rule)
        if self.calibrator is not None:
            self.calibrator.record(values)
        cards = self.panel.update(ts, holding, values)
        return Decision([r.id for r in holding], cards, conditions)
