"""Injected liquidity events with known truth: scenario entries, their validation, truth records.

A scenario says what to inject (../shared/docs/liquidity-events.md, "Injecting events with known
truth"): ``type`` (wall, sweep, absorption, layering, iceberg, exhaustion, or the ``spread``
market-condition control), ``side`` (the BOOK side the event is about: a buy sweep consumes
asks, so it is ``"ask"``), ``distance_ticks`` from the same side's touch (default 0; wall 5,
layering 4), ``size_multiple`` times the exchange's own median level size near the touch (the
10 best levels of each side, measured from its book at injection time), ``duration_s``,
``at_s`` (after the scenario list starts; for the control endpoint, after the request; venue
time), ``symbol`` (default: the first served), ``id`` and ``decoy`` (a hard negative,
``decoy_of`` its look-alike type, default its own type), ``yardstick`` (what
``size_multiple`` multiplies: ``touch_median``, the default above, or ``volume_median``, the
wall/layering detectors' own unit at the injection's distance), ``distance_bps`` (> 0: the
distance in basis points of the touch price instead of ticks), plus the type's own knobs (``KNOBS``,
documented on ``Scenario``). A decoy gets its canonical hard negative for every knob it does
not set (``DECOY_PRESETS``): a 2x wall, one big print at one price (sweep ``levels = 1``),
trades into a level that is not refilled (absorption/iceberg ``refill = false``), an honest
ladder that gets filled (layering ``fill = true``), thinning to 60 % that recovers
(exhaustion). A 10x order living 1 s is ``type = "wall", decoy = true, size_multiple = 10,
duration_s = 1``.

Files: TOML with ``[[scenario]]`` tables, or JSON (a list, or ``{"scenarios": [...]}``)::

    [[scenario]]
    type = "wall"
    side = "bid"
    distance_ticks = 20
    size_multiple = 10
    duration_s = 12
    at_s = 5

    [[scenario]]
    type = "sweep"
    side = "ask"      # a buy sweep
    levels = 5
    at_s = 30

Every error names the entry and the key. Truth records (``TruthRecord``) use the event API's
conventions: prices in quote units, sizes in base units, ``price_from``/``price_to`` from the
touch outward (a sweep: first to last price), times in venue epoch seconds.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

BookSide = Literal["bid", "ask"]
EVENT_TYPES = ("wall", "sweep", "absorption", "layering", "iceberg", "exhaustion")
CONTROL_TYPES = ("spread",)
ALL_TYPES = EVENT_TYPES + CONTROL_TYPES

# Type-specific knobs (beyond the common keys) each type accepts.
KNOBS: dict[str, frozenset[str]] = {
    "wall": frozenset({"end"}),
    "sweep": frozenset({"levels", "children", "fraction", "min_volume_multiple"}),
    "absorption": frozenset({"budget_multiple", "hit_interval_s", "refill", "max_delay_ms"}),
    "layering": frozenset({"layers", "approach_ticks", "fill", "place_gap_s"}),
    "iceberg": frozenset({"peak_multiple", "total_multiple", "refill", "delay_ms",
                          "hit_interval_s"}),
    "exhaustion": frozenset({"band_ticks", "thin_to", "breakout", "breakout_levels"}),
    "spread": frozenset({"ticks"}),
}
# Defaults that differ by type (a key given in the entry wins).
TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "wall": {"distance_ticks": 5},
    "layering": {"distance_ticks": 4},
}
DECOY_PRESETS: dict[str, dict[str, Any]] = {
    "wall": {"size_multiple": 2.0},
    "sweep": {"levels": 1},
    "absorption": {"refill": False},
    "iceberg": {"refill": False},
    "layering": {"fill": True, "distance_ticks": 1},
    "exhaustion": {"thin_to": 0.6, "breakout": False},
}
COMMON_KEYS = frozenset({"type", "side", "symbol", "distance_ticks", "distance_bps",
                         "size_multiple", "yardstick", "duration_s", "at_s", "decoy",
                         "decoy_of", "id"})
# What ``size_multiple`` multiplies: "touch_median" (the plain median of the 10 best levels of
# each side) or "volume_median" (the volume-weighted median level size at the injection's
# distance: the wall and layering detectors' own yardstick, see injection_venue).
YARDSTICKS = ("touch_median", "volume_median")


class ScenarioError(ValueError):
    """A scenario entry (or file) is invalid; the message names the entry and the key."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One injection. Defaults are events clearly above the detectors' default thresholds."""

    type: str
    side: BookSide = "bid"
    symbol: str | None = None
    distance_ticks: int = 0
    # > 0: the distance is this many basis points of the touch price instead (a wall 10 bps
    # out is as safe from the flow on BTCUSDT as on ETHUSDT; ticks are not)
    distance_bps: float = 0.0
    size_multiple: float = 8.0
    yardstick: str = "touch_median"
    duration_s: float = 10.0
    at_s: float = 0.0
    decoy: bool = False
    decoy_of: str | None = None
    id: str | None = None
    # wall: "cancel" (pulled at the end) or "trade" (traded through at the end)
    end: str = "cancel"
    # sweep: price levels reached (the last one partly, by ``fraction``), child orders in 300 ms
    levels: int = 4
    children: int = 1
    fraction: float = 0.5
    # > 0: keep taking levels (beyond ``levels``) until the volume is >= this x the larger touch
    # size (the sweep detector's volume floor is a multiple of the rolling touch size: on
    # BTCUSDT levels behind a 3 BTC touch hold ~0.07 BTC, so 6 levels can be ~1x it); the decoy
    # (one print at one price) sizes its print so too
    min_volume_multiple: float = 0.0
    # absorption: absorber's budget (x the visible size it keeps), taker cadence, refill delay
    budget_multiple: float = 6.0
    hit_interval_s: float = 0.3
    refill: bool = True
    max_delay_ms: float = 300.0
    # layering: layers from distance_ticks outward, pulled when the touch comes this close
    layers: int = 4
    approach_ticks: int = 2
    fill: bool = False
    place_gap_s: float = 0.2
    # iceberg: peak (x touch median), total (x peak), refill delay (0: instant; else lognormal
    # median in ms)
    peak_multiple: float = 1.0
    total_multiple: float = 20.0
    delay_ms: float = 0.0
    # exhaustion: near-touch band, depth it thins to (share of its start), breakout after
    band_ticks: int = 10
    thin_to: float = 0.2
    breakout: bool = True
    breakout_levels: int = 5
    # spread control: the spread to hold, in ticks
    ticks: int = 20

    def as_dict(self) -> dict[str, Any]:
        common = {k: getattr(self, k) for k in sorted(COMMON_KEYS)}
        common.update({k: getattr(self, k) for k in sorted(KNOBS[self.type])})
        return common


@dataclass(slots=True)
class TruthRecord:
    """What was injected, as published: prices in quote units, sizes in base units, times in
    VENUE epoch seconds (the E/T of the first message that shows it)."""

    id: str
    type: str
    symbol: str
    side: BookSide
    price: float = 0.0
    price_from: float = 0.0
    price_to: float = 0.0
    start_ts: float | None = None
    end_ts: float | None = None
    size: float = 0.0
    decoy: bool = False
    decoy_of: str | None = None
    status: str = "pending"  # pending -> active -> ended (or failed: detail["error"] says why)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ validation
_INT_KEYS = frozenset({"distance_ticks", "levels", "children", "layers", "approach_ticks",
                       "band_ticks", "breakout_levels", "ticks"})
_BOOL_KEYS = frozenset({"decoy", "refill", "fill", "breakout"})
_STR_KEYS = frozenset({"type", "side", "symbol", "decoy_of", "id", "end", "yardstick"})
# (low, high) inclusive bounds per numeric key.
_RANGES: dict[str, tuple[float, float]] = {
    "distance_ticks": (0, 2000), "distance_bps": (0, 500), "size_multiple": (0.01, 1000),
    "duration_s": (0.05, 3600), "at_s": (0, 86400), "levels": (1, 50), "children": (1, 10),
    "fraction": (0.05, 1), "min_volume_multiple": (0, 1000), "budget_multiple": (0.1, 1000),
    "hit_interval_s": (0.01, 60), "max_delay_ms": (0, 5000),
    "layers": (1, 50), "approach_ticks": (0, 1000), "place_gap_s": (0, 10),
    "peak_multiple": (0.01, 100), "total_multiple": (1, 1000), "delay_ms": (0, 5000),
    "band_ticks": (1, 1000), "thin_to": (0, 1), "breakout_levels": (1, 100), "ticks": (2, 5000),
}


def parse_scenario(entry: Mapping[str, Any], where: str = "scenario",
                   from_text: bool = False) -> Scenario:
    """Validate one entry. ``from_text``: values are strings (a query string) to be coerced."""
    if not isinstance(entry, Mapping):
        raise ScenarioError(f"{where}: expected a table/object, got {type(entry).__name__}")
    kind = entry.get("type")
    if kind not in ALL_TYPES:
        raise ScenarioError(f"{where}: key 'type' must be one of {', '.join(ALL_TYPES)}; "
                            f"got {kind!r}")
    allowed = COMMON_KEYS | KNOBS[kind]
    values: dict[str, Any] = {}
    for key, raw in entry.items():
        if key not in allowed:
            raise ScenarioError(f"{where}: unknown key {key!r} for type {kind!r}; allowed: "
                                f"{', '.join(sorted(allowed))}")
        values[key] = _coerce(key, raw, where, from_text)
    if values.get("decoy"):
        decoy_of = values.setdefault("decoy_of", kind)
        if decoy_of not in EVENT_TYPES:
            raise ScenarioError(f"{where}: key 'decoy_of' must be an event type; got "
                                f"{decoy_of!r}")
        for key, value in DECOY_PRESETS.get(kind, {}).items():
            values.setdefault(key, value)
    elif values.get("decoy_of") is not None:
        raise ScenarioError(f"{where}: key 'decoy_of' is only meaningful with decoy = true")
    for key, value in TYPE_DEFAULTS.get(kind, {}).items():
        values.setdefault(key, value)
    _check_values(values, where)
    return replace(Scenario(type=kind), **values)


def _coerce(key: str, raw: Any, where: str, from_text: bool) -> Any:
    def bad(expected: str) -> ScenarioError:
        return ScenarioError(f"{where}: key {key!r} must be {expected}; got {raw!r}")

    if key in _STR_KEYS:
        if not isinstance(raw, str) or not raw:
            raise bad("a non-empty string")
        return raw.upper() if key == "symbol" else raw
    if key in _BOOL_KEYS:
        if from_text and isinstance(raw, str) and raw.lower() in ("true", "1", "false", "0"):
            return raw.lower() in ("true", "1")
        if not isinstance(raw, bool):
            raise bad("true or false")
        return raw
    if from_text and isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise bad("a number") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise bad("a number")
    low, high = _RANGES[key]
    if not low <= raw <= high:
        raise bad(f"between {low:g} and {high:g}")
    if key in _INT_KEYS:
        if raw != int(raw):
            raise bad("a whole number")
        return int(raw)
    return float(raw)


def _check_values(values: Mapping[str, Any], where: str) -> None:
    if values.get("side", "bid") not in ("bid", "ask"):
        raise ScenarioError(f"{where}: key 'side' must be 'bid' or 'ask' (the BOOK side: a buy "
                            f"sweep consumes asks); got {values['side']!r}")
    if values.get("yardstick", "touch_median") not in YARDSTICKS:
        raise ScenarioError(f"{where}: key 'yardstick' must be one of {', '.join(YARDSTICKS)}; "
                            f"got {values['yardstick']!r}")
    if values.get("end", "cancel") not in ("cancel", "trade"):
        raise ScenarioError(f"{where}: key 'end' must be 'cancel' or 'trade'; got "
                            f"{values['end']!r}")


def parse_scenarios(entries: Sequence[Any], origin: str) -> list[Scenario]:
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise ScenarioError(f"{origin}: expected a list of scenarios")
    out = []
    for index, entry in enumerate(entries):
        name = entry.get("id") if isinstance(entry, Mapping) else None
        where = f"{origin}: scenario #{index + 1}" + (f" ({name})" if name else "")
        out.append(parse_scenario(entry, where))
    return out


def load_scenarios(path: Path | str) -> list[Scenario]:
    """Scenarios from a TOML (``[[scenario]]``) or JSON file; ``ScenarioError`` if invalid."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            doc: Any = json.loads(text)
        else:
            doc = tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: "
                            f"{exc}") from None
    if isinstance(doc, Mapping):
        unknown = set(doc) - {"scenario", "scenarios"}
        if unknown:
            raise ScenarioError(f"{path}: unknown top-level key(s) {sorted(unknown)}; put "
                                "entries under [[scenario]] (TOML) or \"scenarios\" (JSON)")
        doc = doc.get("scenario", doc.get("scenarios", []))
    return parse_scenarios(doc, str(path))

