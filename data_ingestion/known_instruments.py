"""The instruments a venue parser converts messages for. Markets started at runtime join them;
stopped ones leave, and their late messages are then ignored like any unconfigured symbol's."""

from __future__ import annotations

from orderbook.instrument import Instrument


class KnownInstruments:
    _instruments: dict[str, Instrument]

    def add_instrument(self, instrument: Instrument) -> None:
        self._instruments[instrument.symbol] = instrument

    def remove_instrument(self, symbol: str) -> None:
        self._instruments.pop(symbol, None)
