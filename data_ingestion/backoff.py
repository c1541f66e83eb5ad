"""Exponential backoff with full jitter and a cap: bounded retry loops everywhere."""

from __future__ import annotations

import random


class Backoff:
    """``next_delay()`` grows ``base * 2**n`` up to ``cap``, jittered into ``[delay/2, delay]``;
    ``reset()`` after a success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0,
                 rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return delay * (0.5 + 0.5 * self._rng.random())

    def reset(self) -> None:
        self.attempts = 0
