"""The insight panel: at most ``max_cards`` cards, highest priority first, with hysteresis.

Each second the panel receives the rules holding on the frame. A card is shown while its rule
holds (``holding: false``) and for ``hold_s`` seconds after it last held (``holding: true``, its
texts frozen as they were on the last frame where the rule held), so a value hovering around a
threshold does not make the panel flicker. A rule that holds again within that time keeps its
card and its ``triggered_at`` (the frame ``ts`` at which the rule started holding). Order:
priority (HIGH, MEDIUM, LOW), then cards whose rule holds now before held ones, then the most
recently triggered first, then the lower id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from insights.rules import PRIORITIES, Rule

_RANK = {priority: i for i, priority in enumerate(PRIORITIES)}


@dataclass(slots=True)
class _Card:
    rule: Rule
    triggered_at: float
    last_true: float
    texts: dict[str, str]


class InsightPanel:
    __slots__ = ("_cards", "hold_s", "max_cards")

    def __init__(self, hold_s: float = 5.0, max_cards: int = 3) -> None:
        self.hold_s = hold_s
        self.max_cards = max_cards
        self._cards: dict[int, _Card] = {}

    def update(self, ts: float, holding: Iterable[Rule],
               values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The cards for the frame at ``ts`` given the rules that hold on ``values``."""
        now_ids = set()
        for rule in holding:
            now_ids.add(rule.id)
            card = self._cards.get(rule.id)
            if card is None:
                card = self._cards[rule.id] = _Card(rule, ts, ts, {})
            card.last_true = ts
            card.texts = rule.texts(values)
        for rule_id in [i for i, c in self._cards.items()
                        if i not in now_ids and ts - c.last_true > self.hold_s]:
            del self._cards[rule_id]
        ordered = sorted(self._cards.values(), key=lambda c: (
            _RANK[c.rule.priority], c.rule.id not in now_ids, -c.triggered_at, c.rule.id))
        return [_card_dict(c, c.rule.id not in now_ids) for c in ordered[: self.max_cards]]

    def reset(self) -> None:
        self._cards.clear()


def _card_dict(card: _Card, held: bool) -> dict[str, Any]:
    return {"id": card.rule.id, "priority": card.rule.priority, **card.texts,
            "triggered_at": card.triggered_at, "holding": held}
