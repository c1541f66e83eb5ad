"""Exponential backoff with full jitter and a cap: bounded retry loops everywhere."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


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


async def retry_bounded(request: Callable[[], Awaitable[T]],
                        retryable: type[Exception] | tuple[type[Exception], ...],
                        attempts: int, delay_s: float, what: str) -> T:
    """``await request()``, retried on ``retryable`` errors at most ``attempts`` times in all,
    ``delay_s`` apart or longer when the error says (its ``retry_after``, seconds); the last
    error is raised. Any other error is not retried."""
    for attempt in range(1, attempts + 1):
        try:
            return await request()
        except retryable as exc:
            if attempt == attempts:
                raise
            log.warning("%s failed (%s); retry %d/%d", what, exc, attempt, attempts)
            await asyncio.sleep(max(delay_s, getattr(exc, "retry_after", None) or 0.0))
    raise AssertionError("unreachable")
