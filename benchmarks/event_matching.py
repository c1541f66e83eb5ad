"""Pure matching and scoring of liquidity-event detections against injected truth.

The method of ../shared/docs/liquidity-events.md ("Scoring"): per type, detections are matched
one-to-one to truth records of the same type and side, with a price tolerance (a price range
overlap for sweeps and layering) and a time collar around the truth's window; an exhaustion alert
counts only if it came before its breakout. Hard negatives (truth with ``decoy=True``,
``decoy_of=T``) detected as ``T`` are errors ("decoys reported").

Which detections are judged: only those that would match an injected record of their type
(genuine or decoy: same side, price tolerance, time collar) can be errors. A detection left over
there (a second event for one injected wall, a natural event glued onto an injection) is a
false alarm - unless the same run *without* injections (same seed, same recording) detected it
too. Detections away from every injected window are the market's own events ("natural"),
reported as a rate: the run with injections diverges from the plain one as soon as the first
injection changes the book (the simulated flow reacts to prices; a replayed overlay shifts the
touch), so matching them against the plain run would count the market's own sweeps and walls
as errors (5331 sweep "false alarms" in the first scoring). The plain run's rates per type are
the background a user sees.

The time collar is 2 s, except for sweeps (0.5 s): a sweep's truth is its own prints' times,
which its detection shares exactly (latency is a separate column), while natural sweeps run at
~1000 an hour on a fast market, so a wider collar only admits unrelated bursts.

No I/O and no clock: records in, numbers out (``benchmarks/events.py`` does the running).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = ("wall", "sweep", "absorption", "layering", "iceberg", "exhaustion")
# Matched by price range overlap. Exhaustion (H9): an alert is about a side, reported at the
# touch of its moment; the injected truth spans the touches seen while the side thinned.
RANGE_TYPES = frozenset({"sweep", "layering", "exhaustion"})


@dataclass(frozen=True, slots=True)
class Record:
    """One detection or one truth record, reduced to what matching needs. Times are venue
    epoch seconds; ``end_ts`` None means still active at the end of the run."""

    type: str
    side: str
    price: float
    price_from: float
    price_to: float
    start_ts: float
    end_ts: float | None
    detected_ts: float | None = None   # detections only
    decoy: bool = False                # truth only: a hard negative...
    decoy_of: str | None = None        # ...of this type
    breakout_ts: float | None = None   # truth only (exhaustion): when price broke through
    id: str = ""

    @property
    def low(self) -> float:
        return min(self.price_from, self.price_to, self.price)

    @property
    def high(self) -> float:
        return max(self.price_from, self.price_to, self.price)


@dataclass(frozen=True, slots=True)
class MatchRule:
    tick: float                  # the instrument's tick size (price units)
    price_ticks: float = 2.0     # |price difference| within this many ticks
    collar_s: float = 2.0        # truth window widened by this much on both sides...
    # ...except for these types (see the module docstring)
    type_collars: tuple[tuple[str, float], ...] = (("sweep", 0.5),)

    def collar(self, event_type: str) -> float:
        for kind, collar in self.type_collars:
            if kind == event_type:
                return collar
        return self.collar_s


def detection_from_dict(d: Mapping[str, Any]) -> Record:
    """A ``LiquidityEvent.to_dict()`` (or the ``/events`` JSON) as a ``Record``."""
    price = float(d["price"])
    return Record(type=d["type"], side=d["side"], price=price,
                  price_from=float(d.get("price_from", price)),
                  price_to=float(d.get("price_to", price)),
                  start_ts=float(d["start_ts"]), end_ts=_opt(d.get("end_ts")),
                  detected_ts=float(d.get("detected_ts", d["start_ts"])), id=str(d.get("id", "")))


def truth_from_dict(d: Mapping[str, Any]) -> Record:
    """An injected truth record (the injector's JSON). Missing price bounds default to
    ``price``, a missing end to the start (an instantaneous event)."""
    price = float(d["price"])
    start = float(d["start_ts"])
    end = _opt(d.get("end_ts"))
    detail = d.get("detail") or {}
    breakout = d.get("breakout_ts", detail.get("breakout_ts"))
    return Record(type=d["type"], side=d["side"], price=price,
                  price_from=float(d.get("price_from", price)),
                  price_to=float(d.get("price_to", price)),
                  start_ts=start, end_ts=start if end is None else end,
                  decoy=bool(d.get("decoy", False)), decoy_of=d.get("decoy_of"),
                  breakout_ts=_opt(breakout), id=str(d.get("id", "")))


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


# ---- the rule -----------------------------------------------------------------------------

def price_ok(det: Record, ref: Record, event_type: str, rule: MatchRule) -> bool:
    tol = rule.price_ticks * rule.tick + 1e-9 * max(1.0, abs(ref.price))
    if event_type in RANGE_TYPES:
        return det.low <= ref.high + tol and ref.low <= det.high + tol
    return abs(det.price - ref.price) <= tol


def time_ok(det: Record, ref: Record, event_type: str, rule: MatchRule) -> bool:
    """The detection's life overlaps the reference's window widened by the collar; an
    exhaustion alert must also precede the breakout (plus the collar's slack)."""
    ref_end = ref.end_ts if ref.end_ts is not None else math.inf
    det_end = det.end_ts if det.end_ts is not None else math.inf
    collar = rule.collar(event_type)
    if det.start_ts > ref_end + collar or det_end < ref.start_ts - collar:
        return False
    if event_type == "exhaustion" and ref.breakout_ts is not None:
        alert = det.detected_ts if det.detected_ts is not None else det.start_ts
        return alert <= ref.breakout_ts
    return True


def matches(det: Record, ref: Record, event_type: str, rule: MatchRule) -> bool:
    return (det.side == ref.side and price_ok(det, ref, event_type, rule)
            and time_ok(det, ref, event_type, rule))


def _cost(det: Record, ref: Record, rule: MatchRule) -> float:
    """Closeness of a candidate pair: start-time distance plus price distance in ticks
    (a tick weighs like 0.1 s), so ties resolve to the nearest event."""
    return abs(det.start_ts - ref.start_ts) + 0.1 * abs(det.price - ref.price) / rule.tick


def match_one_to_one(dets: Sequence[Record], refs: Sequence[Record], event_type: str,
                     rule: MatchRule) -> list[tuple[int, int]]:
    """Pairs ``(det index, ref index)``, each used at most once: greedy on the closest
    candidate pair first (exact assignment would differ only where two same-side events of one
    type overlap within a couple of ticks and seconds, which injections avoid)."""
    candidates = sorted(
        (_cost(d, r, rule), i, j)
        for i, d in enumerate(dets) for j, r in enumerate(refs)
        if matches(d, r, event_type, rule))
    used_d: set[int] = set()
    used_r: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i in used_d or j in used_r:
            continue
        used_d.add(i)
        used_r.add(j)
        pairs.append((i, j))
    return pairs


# ---- scores -------------------------------------------------------------------------------

@dataclass(slots=True)
class TypeScore:
    """Counts for one type, summable over runs."""

    truths: int = 0
    hits: int = 0
    detections: int = 0
    false_alarms: int = 0
    decoys: int = 0            # hard negatives of this type injected
    decoys_reported: int = 0   # ...and detected as this type (errors)
    background: int = 0        # judged detections also seen in the no-injection run
    natural: int = 0           # detections away from every injected window (not judged)
    hours: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: TypeScore) -> None:
        for name in ("truths", "hits", "detections", "false_alarms", "decoys",
                     "decoys_reported", "background", "natural", "hours"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies.extend(other.latencies)

    @property
    def recall(self) -> float | None:
        return self.hits / self.truths if self.truths else None

    @property
    def precision(self) -> float | None:
        judged = self.hits + self.false_alarms + self.decoys_reported
        return self.hits / judged if judged else None

    @property
    def false_alarms_per_hour(self) -> float | None:
        return self.false_alarms / self.hours if self.hours > 0 else None

    @property
    def natural_per_hour(self) -> float | None:
        return self.natural / self.hours if self.hours > 0 else None

    @property
    def latency_median(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def latency_p90(self) -> float | None:
        return percentile(self.latencies, 90)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def score_type(event_type: str, detections: Iterable[Record], truth: Iterable[Record],
               background: Iterable[Record], hours: float, rule: MatchRule) -> TypeScore:
    """One run, one type: hits against genuine truth first, then decoys, then background."""
    dets = [d for d in detections if d.type == event_type]
    truth = list(truth)
    genuine = [t for t in truth if not t.decoy and t.type == event_type]
    decoys = [t for t in truth if t.decoy and t.decoy_of == event_type]
    bg = [b for b in background if b.type == event_type]
    out = TypeScore(truths=len(genuine), detections=len(dets), decoys=len(decoys), hours=hours)
    hit_pairs = match_one_to_one(dets, genuine, event_type, rule)
    out.hits = len(hit_pairs)
    out.latencies = [(dets[i].detected_ts or dets[i].start_ts) - genuine[j].start_ts
                     for i, j in hit_pairs]
    rest = _without(dets, {i for i, _ in hit_pairs})
    decoy_pairs = match_one_to_one(rest, decoys, event_type, rule)
    out.decoys_reported = len(decoy_pairs)
    rest = _without(rest, {i for i, _ in decoy_pairs})
    injected = genuine + decoys
    judged = [d for d in rest if any(matches(d, r, event_type, rule) for r in injected)]
    out.natural = len(rest) - len(judged)
    out.background = len(match_one_to_one(judged, bg, event_type, rule))
    out.false_alarms = len(judged) - out.background
    return out


def _without(items: Sequence[Record], drop: set[int]) -> list[Record]:
    return [x for i, x in enumerate(items) if i not in drop]


def score_run(detections: Sequence[Record], truth: Sequence[Record],
              background: Sequence[Record], hours: float,
              rule: MatchRule) -> dict[str, TypeScore]:
    return {t: score_type(t, detections, truth, background, hours, rule) for t in EVENT_TYPES}


def combine(runs: Iterable[Mapping[str, TypeScore]]) -> dict[str, TypeScore]:
    total = {t: TypeScore() for t in EVENT_TYPES}
    for run in runs:
        for t, s in run.items():
            total[t].add(s)
    return total


# ---- tables -------------------------------------------------------------------------------

def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def scoring_table(scores: Mapping[str, TypeScore]) -> str:
    """Markdown: one row per type."""
    rows = [("| type | injected | hits | recall | precision | false alarms | FA/hour | "
             "decoys reported | background | natural/hour | latency median (s) | "
             "latency p90 (s) |"),
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, s in scores.items():
        rows.append(
            f"| {t} | {s.truths} | {s.hits} | {_fmt(s.recall, '.2f')} | "
            f"{_fmt(s.precision, '.2f')} | {s.false_alarms} | "
            f"{_fmt(s.false_alarms_per_hour, '.1f')} | {s.decoys_reported} of {s.decoys} | "
            f"{s.background} | {_fmt(s.natural_per_hour, '.0f')} | "
            f"{_fmt(s.latency_median, '.2f')} | {_fmt(s.latency_p90, '.2f')} |")
    return "\n".join(rows)


def rate_table(counts: Mapping[str, Mapping[str, int]], hours: Mapping[str, float]) -> str:
    """Markdown: events per hour per type (columns) for each recording (rows)."""
    head = "| recording | hours | " + " | ".join(EVENT_TYPES) + " |"
    rows = [head, "|---|---|" + "---|" * len(EVENT_TYPES)]
    for name, per_type in counts.items():
        h = hours[name]
        cells = " | ".join(f"{per_type.get(t, 0) / h:.0f} ({per_type.get(t, 0)})"
                           if h > 0 else "-" for t in EVENT_TYPES)
        rows.append(f"| {name} | {h:.3f} | {cells} |")
    return "\n".join(rows)
