"""The calibrated profile: a rule's fixed threshold replaced by a percentile of the symbol's own
recent history of that metric (or of the rule's ``calibrate_on`` metric, compared instead).

For a rule with ``percentile = p`` the threshold on a frame is the p-th percentile (numpy's
default linear interpolation) of the metric's values on the previous ``window_s`` frames of this
symbol (the current frame excluded, nulls skipped). With fewer than ``min_samples`` past values
the threshold is unknown (``None``) and the rule does not hold: a young history says nothing
about what is unusual. Rules without ``percentile`` (the relative ``k x other`` ones, the
liquidity-event counts) keep their fixed thresholds.

Memory is fixed: one float64 ring of ``window_s`` values per calibrated metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from insights.rules import Rule


class Calibrator:
    __slots__ = ("_filled", "_next", "_rings", "min_samples", "window_s")

    def __init__(self, rules: Iterable[Rule], window_s: int, min_samples: int) -> None:
        self.window_s = window_s
        self.min_samples = min_samples
        metrics = {r.calibrated_metric for r in rules if r.percentile is not None}
        self._rings = {m: np.full(window_s, np.nan) for m in sorted(metrics)}
        self._next = 0
        self._filled = 0

    def thresholds(self, rules: Iterable[Rule]) -> dict[int, float | None]:
        """Calibrated threshold per percentile rule, from the history before this frame (one
        sort per metric, however many percentiles of it the rules ask for)."""
        wanted: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.percentile is not None:
                wanted.setdefault(rule.calibrated_metric, []).append(rule)
        out: dict[int, float | None] = {}
        for metric, metric_rules in wanted.items():
            ring = self._rings[metric][: self._filled]
            values = ring[~np.isnan(ring)]
            if len(values) < self.min_samples:
                out.update(dict.fromkeys((r.id for r in metric_rules), None))
                continue
            levels = np.percentile(values, [r.percentile for r in metric_rules])
            out.update({r.id: float(v) for r, v in zip(metric_rules, levels, strict=True)})
        return out

    def record(self, values: Mapping[str, Any]) -> None:
        """Add this frame's values (``None`` stored as a gap)."""
        slot = self._next
        for metric, ring in self._rings.items():
            value = values.get(metric)
            ring[slot] = np.nan if value is None else float(value)
        self._next = (slot + 1) % self.window_s
        self._filled = min(self._filled + 1, self.window_s)
