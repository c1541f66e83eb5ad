"""``python -m local_exchange``: the local Binance look-alike on its own, for any client or bot.

    python -m local_exchange --port 9000 --symbols BTCUSDT,ETHUSDT
    python -m local_exchange --replay ../shared/data/binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz --speed 5
    python -m local_exchange --tls --faults drop:BTCUSDT@10s,disconnect@30s/60s

It prints the REST and WebSocket base URLs (and the certificate to trust with ``--tls``), then
serves until Ctrl-C (or SIGTERM). Bad flags get one line on stderr and exit status 2.

Scheduled faults (``--faults``): comma-separated ``ACTION[:ARG[:ARG]]@AT[/EVERY]``, times in
``s``/``ms``/``m`` (bare numbers are seconds) counted from the start; ``/EVERY`` repeats. Each
action is one of ``LocalExchange``'s fault methods (``_ACTIONS`` below).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from local_exchange.exchange import Dialect, LocalExchange
from local_exchange.instruments import KNOWN_SPECS, SPOT_SPECS
from local_exchange.tls import SelfSigned, TlsError, make_self_signed

log = logging.getLogger("local_exchange")

# action -> (its arguments, what it does): SYM a served symbol, N a count; [] optional.
_ACTIONS: dict[str, tuple[str, str]] = {
    "drop": (":SYM", "the next depth diff of SYM is not sent (a sequence gap)"),
    "duplicate": (":SYM", "the next depth diff of SYM is sent twice"),
    "reorder": (":SYM", "the next two depth diffs of SYM are swapped"),
    "stale": (":SYM[:N]", "the next N (1) REST snapshots of SYM come from an older state"),
    "malformed": (":SYM[:invalid_json|missing_fields]", "one bad frame to SYM's depth subscribers"),
    "disconnect": ("", "abort every WebSocket at the TCP level"),
    "silence": (":SECONDS", "WebSockets get no frames for SECONDS, TCP stays open"),
    "ratelimit": ("[:N[:RETRY_S]]", "the next N (1) depth requests get 429, Retry-After RETRY_S"),
    "server_error": ("[:N[:STATUS]]", "the next N (1) depth requests get HTTP STATUS (503)"),
}
_MALFORMED = ("invalid_json", "missing_fields")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


class UsageError(ValueError):
    """A bad command-line value; its message is the one line the user sees."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One scheduled fault: ``action(args)`` at ``at_s`` after start, then every ``every_s``."""

    action: str
    args: tuple[str, ...]
    at_s: float
    every_s: float | None = None

    def describe(self) -> str:
        return ":".join((self.action, *self.args))


def parse_duration(text: str) -> float:
    """``10s``, ``500ms``, ``2m`` or a bare number of seconds -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not a duration (e.g. 10s, 500ms, 2m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def parse_faults(text: str) -> list[Fault]:
    """Parse ``--faults``; arguments are checked for shape, symbols later against the market."""
    faults = []
    for spec in (part.strip() for part in text.split(",")):
        if not spec:
            continue
        what, at, when = spec.partition("@")
        if not at:
            raise UsageError(f"fault {spec!r}: missing '@TIME' (e.g. drop:BTCUSDT@10s)")
        action, *args = what.split(":")
        if action not in _ACTIONS:
            raise UsageError(f"fault {spec!r}: unknown action {action!r}; "
                             f"one of {', '.join(_ACTIONS)}")
        first, slash, every = when.partition("/")
        every_s = parse_duration(every) if slash else None
        if every_s is not None and every_s <= 0:
            raise UsageError(f"fault {spec!r}: the repeat period must be positive")
        fault = Fault(action, tuple(a.strip() for a in args), parse_duration(first), every_s)
        _check_args(fault, spec)
        faults.append(fault)
    return faults


def _check_args(fault: Fault, spec: str) -> None:
    args, action = fault.args, fault.action
    wants_symbol = action in ("drop", "duplicate", "reorder", "stale", "malformed")
    most = {"drop": 1, "duplicate": 1, "reorder": 1, "stale": 2, "malformed": 2,
            "disconnect": 0, "silence": 1, "ratelimit": 2, "server_error": 2}[action]
    if len(args) > most or (wants_symbol and not args) or (action == "silence" and not args):
        raise UsageError(f"fault {spec!r}: expected {action}{_ACTIONS[action][0]}")
    numbers = args[1:] if wants_symbol and action != "malformed" else ()
    if action in ("ratelimit", "server_error"):
        numbers = args
    for number in numbers:
        if not number.isdigit() or int(number) <= 0:
            raise UsageError(f"fault {spec!r}: {number!r} is not a positive integer")
    if action == "silence":
        parse_duration(args[0])
    if action == "malformed" and len(args) == 2 and args[1] not in _MALFORMED:
        raise UsageError(f"fault {spec!r}: malformed kind is one of {', '.join(_MALFORMED)}")
    if action == "server_error" and len(args) == 2 and not 500 <= int(args[1]) <= 599:
        raise UsageError(f"fault {spec!r}: server_error status must be 5xx")


def fault_call(exchange: LocalExchange, fault: Fault) -> Callable[[], object]:
    """The exchange call that applies ``fault`` (checked: its symbol must be served)."""
    args = fault.args
    if fault.action in ("drop", "duplicate", "reorder", "stale", "malformed"):
        symbol = args[0].upper()
        if symbol not in exchange.symbols:
            raise UsageError(f"fault {fault.describe()!r}: {symbol} is not served here "
                             f"(served: {','.join(exchange.symbols)})")
        if fault.action == "stale":
            return lambda: exchange.stale_snapshot(symbol, int(args[1]) if len(args) > 1 else 1)
        if fault.action == "malformed":
            kind = args[1] if len(args) > 1 else "invalid_json"
            return lambda: exchange.malformed_frame(symbol, kind)  # type: ignore[arg-type]
        method = {"drop": exchange.drop_diff, "duplicate": exchange.duplicate_diff,
                  "reorder": exchange.reorder_diffs}[fault.action]
        return lambda: method(symbol)
    count = int(args[0]) if args and fault.action != "silence" else 1
    if fault.action == "disconnect":
        return exchange.disconnect_all
    if fault.action == "silence":
        seconds = parse_duration(args[0])
        return lambda: exchange.silence(seconds)
    if fault.action == "ratelimit":
        retry = int(args[1]) if len(args) > 1 else 1
        return lambda: exchange.rest_rate_limit(count, retry)
    status = int(args[1]) if len(args) > 1 else 503
    return lambda: exchange.rest_server_error(count, status)


async def run_faults(exchange: LocalExchange, faults: Sequence[Fault]) -> None:
    """Apply each fault at its time (and again every period), until cancelled."""
    calls = [(fault, fault_call(exchange, fault)) for fault in faults]
    loop = asyncio.get_running_loop()
    start = loop.time()
    due = [(fault.at_s, i) for i, (fault, _) in enumerate(calls)]
    while due:
        due.sort()
        at_s, i = due.pop(0)
        await asyncio.sleep(max(0.0, start + at_s - loop.time()))
        fault, call = calls[i]
        result = call()
        log.warning("fault at %.1fs: %s%s", loop.time() - start, fault.describe(),
                    f" ({result} connections)" if isinstance(result, int) else "")
        if fault.every_s is not None:
            due.append((at_s + fault.every_s, i))


# ------------------------------------------------------------------ command line
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not usage + error: what a user reads first is what went wrong."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _symbols(text: str) -> tuple[str, ...]:
    symbols = tuple(s.strip().upper() for s in text.split(",") if s.strip())
    if not symbols:
        raise argparse.ArgumentTypeError("give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    return symbols


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _faults(text: str) -> list[Fault]:
    try:
        return parse_faults(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    actions = "\n".join(f"  {name + a:<44} {what}"
                        for name, (a, what) in _ACTIONS.items())
    parser = _Parser(
        prog="python -m local_exchange", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A local Binance USDT-M (or Spot) exchange on 127.0.0.1: REST and "
                    "WebSocket market data on one port, simulated or replayed, with faults "
                    "on demand. Point any Binance client at the printed URLs.",
        epilog="fault actions (--faults ACTION[:ARG]@AT[/EVERY],...; times like 10s, 500ms, "
               "2m):\n" + actions + "\nexample: --faults drop:BTCUSDT@10s,disconnect@30s/60s")
    parser.add_argument("--port", type=_port, default=0,
                        help="port for REST and WebSocket (default 0: a free one, printed)")
    parser.add_argument("--symbols", type=_symbols, default=("BTCUSDT", "ETHUSDT"),
                        help="simulated symbols, comma-separated (default BTCUSDT,ETHUSDT); "
                             "ignored with --replay, where the recordings decide")
    parser.add_argument("--dialect", choices=("binance-usdm", "binance-spot"),
                        default="binance-usdm", help="USDT-M futures (default) or Spot")
    parser.add_argument("--replay", nargs="+", type=Path, default=[], metavar="FILE",
                        help="hftbacktest .gz recordings to replay instead of simulating")
    parser.add_argument("--speed", type=_positive, default=1.0,
                        help="replay speed, times real time (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="order-flow seed (default 1)")
    parser.add_argument("--faults", type=_faults, default=[], metavar="SPEC",
                        help="scheduled faults, see below")
    parser.add_argument("--tls", action="store_true",
                        help="serve https:// and wss:// with a self-signed certificate made "
                             "now for localhost/127.0.0.1 (its path is printed)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="default INFO")
    return parser


def _build_exchange(args: argparse.Namespace, tls: SelfSigned | None) -> LocalExchange:
    dialect: Dialect = args.dialect
    listed = SPOT_SPECS if dialect == "binance-spot" else KNOWN_SPECS
    unknown = [s for s in args.symbols if s not in listed]
    if unknown and not args.replay:
        raise UsageError(f"--symbols: {','.join(unknown)} not listed for {dialect}; "
                         f"listed: {','.join(listed)}")
    for path in args.replay:
        if not path.is_file():
            raise UsageError(f"--replay: {path} is not a file")
    try:
        return LocalExchange(args.symbols, seed=args.seed, replay_files=args.replay,
                             speed=args.speed, port=args.port, dialect=dialect,
                             ssl_context=tls.server_context() if tls else None)
    except (ValueError, OSError) as exc:  # e.g. a recording of another venue
        raise UsageError(f"cannot start: {exc}") from None


def _banner(exchange: LocalExchange, tls: SelfSigned | None) -> str:
    ws = exchange.ws_url
    what = (f"replaying {','.join(exchange.symbols)}" if exchange.is_replay
            else f"simulating {','.join(exchange.symbols)}")
    lines = [f"local exchange ({exchange.dialect}, {what})", f"REST: {exchange.rest_url}"]
    if exchange.dialect == "binance-spot":
        lines.append(f"WebSocket: {ws}/ws/<stream>  {ws}/stream?streams=<a>/<b>")
    else:
        lines.append(f"WebSocket public (depth, bookTicker): {ws}/public/ws/<stream>")
        lines.append(f"WebSocket market (trades, tickers...): {ws}/market/ws/<stream>")
    if tls is not None:
        lines.append(f"certificate: {tls.cert_path} (made with {tls.maker}; trust it as a CA)")
    lines.append("Ctrl-C to stop")
    return "\n".join(lines)


async def serve(exchange: LocalExchange, faults: Sequence[Fault],
                tls: SelfSigned | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await exchange.start()
    injector = asyncio.create_task(run_faults(exchange, faults))  # times count from here
    try:
        print(_banner(exchange, tls), flush=True)
        waits: list[asyncio.Task[object]] = [asyncio.create_task(stop.wait())]
        if exchange.is_replay:
            waits.append(asyncio.create_task(exchange.wait_finished()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            print("replay finished; still serving the final book. Ctrl-C to stop", flush=True)
            await stop.wait()
        for task in waits:
            task.cancel()
    finally:
        injector.cancel()
        await asyncio.gather(injector, return_exceptions=True)
        await exchange.stop()
        print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        tls = make_self_signed() if args.tls else None
        exchange = _build_exchange(args, tls)
        for fault in args.faults:
            fault_call(exchange, fault)  # a symbol not served: refuse before binding the port
    except (UsageError, TlsError) as exc:
        parser.error(str(exc))
    try:
        asyncio.run(serve(exchange, args.faults, tls))
    except OSError as exc:  # the port is taken, most likely
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
