"""Injection on top of a replayed recording: an overlay of injected orders on the recorded book.

The recorded book has no orders, so ``ReplayVenue`` keeps, per side: the recorded book R (the
snapshot advanced by every recorded diff past it), injected resting orders O (FIFO per price),
recorded liquidity consumed by injected takers H (hidden until recorded decreases at that price
use it up, or the level goes)
and thinning bands (recorded sizes scaled down, for exhaustion and the spread control). What is
published at a price is ``floor((R - H) x factor) + O``.

``rewrite(diff)`` turns a recorded depthUpdate into the published one: every level it carries
gets the published size, and every price the overlay changed since the last diff is appended,
so U/u/pu stay exactly as recorded and the client's book equals the exchange's published book.
An injected resting order that recorded liquidity crosses is filled by it (a trade) before the
diff goes out. Injected takers consume overlay first, then recorded liquidity, and produce
``trade`` messages shaped like the recording's, with ids from 10^15 up (recorded ids are ~10^10).
Until the replay reaches the recorded snapshot the venue is not ``ready``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sortedcontainers import SortedDict

from local_exchange.injection_venue import SIDES, Fill
from local_exchange.instruments import SymbolSpec
from local_exchange.recording import RecordedMessage
from local_exchange.scenarios import BookSide

Payload = dict[str, Any]
INJECTED_TRADE_ID_BASE = 10**15


class ReplayVenue:
    """A ``Venue`` over one recorded symbol: recorded book + injected overlay."""

    def __init__(self, spec: SymbolSpec, snapshot: Mapping[str, Any] | None) -> None:
        instrument = spec.instrument
        self.spec, self.symbol = spec, spec.symbol
        self.tick, self.step = instrument.tick_units, instrument.step_units
        self.price_scale, self.qty_scale = instrument.price_scale, instrument.qty_scale
        self._fmt_p, self._fmt_q = instrument.prices.format, instrument.quantities.format
        self.snapshot_id = snapshot["lastUpdateId"] if snapshot else None
        parse = instrument.prices.parse_pairs
        self.rec: dict[BookSide, SortedDict] = {
            "bid": SortedDict(parse(snapshot["bids"], instrument.quantities) if snapshot else []),
            "ask": SortedDict(parse(snapshot["asks"], instrument.quantities) if snapshot else [])}
        self.hidden: dict[BookSide, dict[int, int]] = {"bid": {}, "ask": {}}
        self.over: dict[BookSide, SortedDict] = {"bid": SortedDict(), "ask": SortedDict()}
        self.orders: dict[int, tuple[BookSide, int]] = {}
        self.bands: dict[BookSide, dict[tuple[int, int], float]] = {"bid": {}, "ask": {}}
        self.dirty: dict[BookSide, set[int]] = {"bid": set(), "ask": set()}
        self.trades: list[Payload] = []
        self.now_ns = 0
        self.last_published_ms = 0
        self.active = False
        self.engaged = False  # anything injected yet (until then diffs pass untouched)
        self._next_order = 1
        self._next_trade = INJECTED_TRADE_ID_BASE

    @property
    def ready(self) -> bool:
        return self.active

    # ------------------------------------------------------------------- reads
    def _factor(self, side: BookSide, price: int) -> float:
        factor = 1.0
        for (low, high), f in self.bands[side].items():
            if low <= price <= high:
                factor = min(factor, f)
        return factor

    def _raw(self, side: BookSide, price: int) -> int:
        return max(self.rec[side].get(price, 0) - self.hidden[side].get(price, 0), 0)

    def visible_recorded(self, side: BookSide, price: int) -> int:
        raw = self._raw(side, price)
        if raw and self.bands[side]:
            scaled = int(raw * self._factor(side, price))
            return scaled - scaled % self.step
        return raw

    def overlay_qty(self, side: BookSide, price: int) -> int:
        level = self.over[side].get(price)
        return sum(level.values()) if level else 0

    def level_qty(self, side: BookSide, price: int) -> int:
        return self.visible_recorded(side, price) + self.overlay_qty(side, price)

    def _rec_prices(self, side: BookSide) -> Iterable[int]:
        return self.rec[side].irange(reverse=side == "bid")

    def _best_recorded(self, side: BookSide) -> int | None:
        for price in self._rec_prices(side):
            if self.visible_recorded(side, price) > 0:
                return price
        return None

    def raw_best(self, side: BookSide) -> int | None:
        for price in self._rec_prices(side):
            if self._raw(side, price) > 0:
                return price
        return None

    def best(self, side: BookSide) -> int | None:
        rec = self._best_recorded(side)
        over = self.over[side]
        mine = (over.peekitem(-1 if side == "bid" else 0)[0]) if over else None
        if rec is None or mine is None:
            return rec if mine is None else mine
        return max(rec, mine) if side == "bid" else min(rec, mine)

    def levels(self, side: BookSide, count: int) -> list[tuple[int, int]]:
        prices: set[int] = set(self.over[side].keys())
        found = 0
        for price in self._rec_prices(side):
            if found >= count:
                break
            if self.visible_recorded(side, price) > 0:
                prices.add(price)
                found += 1
        ordered = sorted(prices, reverse=side == "bid")
        return [(p, self.level_qty(side, p)) for p in ordered[:count]]

    # ------------------------------------------------------------------ orders
    def place(self, side: BookSide, price: int, qty: int) -> int | None:
        self.engaged = True
        other: BookSide = "ask" if side == "bid" else "bid"
        best_other = self.best(other)
        if best_other is not None and (price >= best_other if side == "bid"
                                       else price <= best_other):
            qty -= sum(f.qty for f in self.take(other, qty, limit=price))
        if qty <= 0:
            return None
        order_id, self._next_order = self._next_order, self._next_order + 1
        self.over[side].setdefault(price, {})[order_id] = qty
        self.orders[order_id] = (side, price)
        self.dirty[side].add(price)
        return order_id

    def cancel(self, order_id: int) -> bool:
        where = self.orders.pop(order_id, None)
        if where is None:
            return False
        side, price = where
        level = self.over[side][price]
        del level[order_id]
        if not level:
            del self.over[side][price]
        self.dirty[side].add(price)
        return True

    def remaining(self, order_id: int) -> int:
        where = self.orders.get(order_id)
        return self.over[where[0]][where[1]][order_id] if where else 0

    def take(self, side: BookSide, qty: int, limit: int | None = None) -> list[Fill]:
        """A taker consuming ``side`` (overlay first at each price, then recorded)."""
        self.engaged = True
        fills: list[Fill] = []
        now_ms = self.now_ns // 1_000_000
        while qty > 0:
            price = self.best(side)
            if price is None or (limit is not None and (price < limit if side == "bid"
                                                        else price > limit)):
                break
            taken = self._take_overlay(side, price, qty)
            rest = min(qty - taken, self.visible_recorded(side, price))
            if rest > 0:
                self._hide(side, price, rest)
            taken += rest
            qty -= taken
            fills.append(Fill(price, taken, now_ms))
            self._trade(price, taken, buyer_maker=side == "bid")
        return fills

    def _take_overlay(self, side: BookSide, price: int, qty: int) -> int:
        level = self.over[side].get(price)
        taken = 0
        while level and qty > taken:
            order_id, size = next(iter(level.items()))
            fill = min(size, qty - taken)
            taken += fill
            if fill == size:
                del level[order_id]
                del self.orders[order_id]
            else:
                level[order_id] = size - fill
        if level is not None and not level:
            del self.over[side][price]
        if taken:
            self.dirty[side].add(price)
        return taken

    def _hide(self, side: BookSide, price: int, visible_qty: int) -> None:
        factor = self._factor(side, price) if self.bands[side] else 1.0
        raw = visible_qty if factor >= 1.0 else -(-visible_qty // max(factor, 1e-9))
        hidden = self.hidden[side]
        hidden[price] = min(hidden.get(price, 0) + int(raw), self.rec[side].get(price, 0))
        self.dirty[side].add(price)

    def _trade(self, price: int, qty: int, buyer_maker: bool) -> None:
        ms = self.now_ns // 1_000_000
        self.trades.append({"e": "trade", "E": ms, "T": ms, "s": self.symbol,
                            "t": self._next_trade, "p": self._fmt_p(price),
                            "q": self._fmt_q(qty), "X": "MARKET", "m": buyer_maker})
        self._next_trade += 1

    def thin(self, side: BookSide, low: int, high: int, cap: int | None,
             stop_arrivals: bool = False) -> None:
        """Scale recorded sizes in [low, high] so the band holds <= ``cap``; None releases.
        Recorded arrivals in the band are scaled alike (``stop_arrivals`` changes nothing: a
        replay cannot tell which recorded size change is an arrival)."""
        self.engaged = True
        bands = self.bands[side]
        if cap is None:
            old = bands.pop((low, high), None)
        else:
            total = sum(self._raw(side, p) for p in self.rec[side].irange(low, high))
            old = bands.get((low, high))
            # cap 0 hides the band whatever arrives in it later (the spread control)
            bands[(low, high)] = 0.0 if cap <= 0 else 1.0 if total <= cap else cap / total
            if old == bands[(low, high)]:
                return
        self.dirty[side].update(self.rec[side].irange(low, high))

    def hold_improving(self, hold: bool) -> None:
        """Nothing to do: a thinned band hides recorded orders arriving inside it too."""

    # ------------------------------------------------------------ publishing
    def rewrite(self, data: Payload) -> Payload:
        """The depthUpdate to publish in place of the recorded ``data``."""
        return self.render(data, self.absorb(data))

    def absorb(self, data: Payload) -> dict[BookSide, list[tuple[int, int]]] | None:
        """Apply a recorded diff to R (None: it predates the snapshot and changes nothing)."""
        if self.snapshot_id is None or data["u"] <= self.snapshot_id:
            return None
        parse = self.spec.instrument.prices.parse_pairs
        quantities = self.spec.instrument.quantities
        parsed = {side: parse(data[key], quantities) for side, key in zip(SIDES, "ba")}
        for side in SIDES:
            rec, hidden = self.rec[side], self.hidden[side]
            for price, qty in parsed[side]:
                old = rec.get(price, 0)
                if qty:
                    rec[price] = qty
                else:
                    rec.pop(price, None)
                taken = hidden.get(price)
                if taken is not None:
                    # Recorded decreases at a price an injected taker consumed are those same
                    # orders trading or cancelling in the recording: they use up the hidden
                    # part first; recorded additions show on top. (Forgetting it at any change
                    # re-showed a swept touch within ~20 ms on a busy recording, so no
                    # injected sweep was ever confirmed on L2.)
                    left = min(taken - max(0, old - qty), qty)
                    if left > 0:
                        hidden[price] = left
                    else:
                        del hidden[price]
        self.active = True
        return parsed

    def render(self, data: Payload,
               parsed: dict[BookSide, list[tuple[int, int]]] | None) -> Payload:
        """The published form of an absorbed diff: overlay sizes, overlay-only changes added."""
        if parsed is None or not self.engaged:
            return data
        self._settle()
        out = dict(data)
        for side, key in zip(SIDES, "ba"):
            out[key] = self._levels_out(side, data[key], parsed[side])
        return out

    def _levels_out(self, side: BookSide, raw: list[list[str]],
                    parsed: list[tuple[int, int]]) -> list[list[str]]:
        out, seen = [], set()
        for (price_text, qty_text), (price, qty) in zip(raw, parsed):
            now = self.level_qty(side, price)
            out.append([price_text, qty_text] if now == qty else [price_text, self._fmt_q(now)])
            seen.add(price)
        for price in sorted(self.dirty[side] - seen):
            out.append([self._fmt_p(price), self._fmt_q(self.level_qty(side, price))])
        self.dirty[side].clear()
        return out

    def _settle(self) -> None:
        """Injected resting orders that recorded liquidity now crosses are filled by it."""
        for side, other in zip(SIDES, reversed(SIDES)):
            over = self.over[side]
            while over:
                mine = over.peekitem(-1 if side == "bid" else 0)[0]
                theirs = self._best_recorded(other)
                if theirs is None or (mine < theirs if side == "bid" else mine > theirs):
                    break
                qty = self._take_overlay(side, mine, self.visible_recorded(other, theirs))
                self._hide(other, theirs, qty)
                self._trade(mine, qty, buyer_maker=side == "bid")

    def drain_trades(self) -> list[Payload]:
        trades, self.trades = self.trades, []
        return trades


class ReplayInjection:
    """The replay hook: agents act before each recorded message; depth diffs are rewritten."""

    def __init__(self, venues: Mapping[str, ReplayVenue], step: Callable[[int], None],
                 shown: Callable[[str, int], None]) -> None:
        self.venues = venues
        self._step, self._shown = step, shown
        self.clock_ms = 0

    def process(self, msg: RecordedMessage) -> list[RecordedMessage]:
        """Messages to publish for ``msg``: injected trades first, then ``msg`` (rewritten)."""
        data = msg.data
        stamp = data.get("E") or data.get("T") or 0
        self.clock_ms = max(self.clock_ms, int(stamp))
        venue = self.venues[msg.symbol]
        if data.get("e") != "depthUpdate":
            self._step(self.clock_ms * 1_000_000)
            return [*self._trades(msg), msg]
        # Agents see the recorded change before it goes out (a gap re-centres in time).
        parsed = venue.absorb(data)
        self._step(self.clock_ms * 1_000_000)
        out = venue.render(data, parsed)
        result = [*self._trades(msg), msg._replace(data=out) if out is not data else msg]
        if venue.active:
            self._shown(msg.symbol, int(out["E"]))
        return result

    def _trades(self, msg: RecordedMessage) -> list[RecordedMessage]:
        return [RecordedMessage(msg.local_ns, symbol, f"{symbol.lower()}@trade", trade)
                for symbol, venue in self.venues.items() for trade in venue.drain_trades()]
