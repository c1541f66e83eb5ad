"""Reading market statistics (mark prices, 24-hour tickers), shared by the venue parsers.

Statistics are not book levels, so their decimal strings become floats and need no instrument;
``float()`` alone is too lenient, so each number is validated here. A malformed statistics
message is skipped, counted by its parser (``malformed_stats``) and logged, but is not a
``ParseError``: it carries nothing a book depends on, so it must not look like a broken book
frame (and on Coinbase its ``sequence_num`` still has to reach the book machine, or the next
message would look like a gap).
"""

from __future__ import annotations

import logging
import math
import re

log = logging.getLogger(__name__)

_LOG_FRAME_CHARS = 300
# What the venues send: plain decimals ("61800.23456789", "-0.00012"). Python's float() would
# also take "nan", "inf", "1_0" and surrounding spaces, none of which is a price.
_DECIMAL = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class BadNumber(ValueError):
    """A number a statistics message carries is not a usable decimal."""


def decimal(text: str, what: str, signed: bool = False) -> float:
    """``text`` (a venue decimal string) as a float; BadNumber when it is not one, or is
    negative and ``signed`` is false."""
    if not _DECIMAL.fullmatch(text):
        raise BadNumber(f"{what}: {text[:40]!r} is not a decimal")
    value = float(text)
    if not math.isfinite(value):
        raise BadNumber(f"{what}: {text[:40]!r} is out of range")
    if value < 0 and not signed:
        raise BadNumber(f"{what}: {text[:40]!r} is negative")
    return value


def log_malformed(venue: str, reason: object, frame: bytes | str) -> None:
    """The log line for a skipped statistics message: why, and the start of the raw frame."""
    log.warning("%s: skipping malformed statistics message (%s): %r", venue, reason,
                frame[:_LOG_FRAME_CHARS])
