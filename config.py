"""The one frozen configuration of a depthlens process.

Built once in ``main.py`` from command-line flags and ``DEPTHLENS_*`` environment variables (a flag
wins over its variable) and passed down explicitly. No other module reads the environment.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, NoReturn

from features.liquidity.params import DetectorParams, ParamsError, load_params
from insights import PROFILES, Profile, RuleBook, RulesError, default_rules, load_rules
from local_exchange.scenarios import Scenario, ScenarioError, load_scenarios
from marketdata.markets import (
    BINANCE_SPOT,
    BINANCE_USDM,
    COINBASE,
    WIRED_VENUES,
    MarketId,
    MarketIdError,
)

Source = Literal["sim", "live", "replay"]
SOURCES: tuple[Source, ...] = ("sim", "live", "replay")
# What cuts frames: the wall clock (live, sim, and replays through the embedded exchange's
# sockets) or the recording's venue time (api/venue_replay.py; deterministic frames).
FrameClockKind = Literal["wall", "venue"]
CLOCKS: tuple[FrameClockKind, ...] = ("wall", "venue")
# The name --source live had while USDT-M was its only venue; still accepted.
_SOURCE_ALIASES: dict[str, Source] = {"binance": "live"}
ENV_PREFIX = "DEPTHLENS_"


class ConfigError(ValueError):
    """A flag or environment variable has a value depthlens cannot use."""


@dataclass(frozen=True, slots=True)
class Config:
    source: Source = "sim"
    # Empty: the source's own default (api/sources.py: the offline three-venue set for sim,
    # BTCUSDT,ETHUSDT for live, the recording's symbols for replay).
    symbols: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    binance_rest_url: str = "https://fapi.binance.com"
    binance_ws_url: str = "wss://fstream.binance.com"
    binance_spot_rest_url: str = "https://api.binance.com"
    binance_spot_ws_url: str = "wss://stream.binance.com:9443"
    coinbase_ws_url: str = "wss://advanced-trade-ws.coinbase.com"
    coinbase_rest_url: str = "https://api.coinbase.com"
    replay_files: tuple[Path, ...] = ()
    speed: float = 1.0  # math.inf: --speed max (venue clock only)
    # Empty: "venue" for replays (unless they need the embedded exchange: --scenarios or a
    # Coinbase capture), "wall" otherwise; see parse_config.
    clock: FrameClockKind | Literal[""] = ""
    log_level: str = "INFO"
    # Features and rolling state.
    top_n: int = 10
    history_seconds: int = 180
    heatmap_band_bps: float = 20.0
    heatmap_rows: int = 400
    # Ingestion limits.
    snapshot_limit: int = 1000
    engine_queue_size: int = 10_000
    stale_after_s: float = 5.0
    silence_timeout_s: float = 10.0
    # Fan-out.
    client_queue_size: int = 4
    # Liquidity event detectors: every threshold (features/liquidity/params.py defaults,
    # overridden by --detectors FILE).
    detectors: DetectorParams = DetectorParams()
    # Liquidity events injected into the embedded local exchange (--scenarios FILE; sim/replay).
    scenarios: tuple[Scenario, ...] = ()
    # Decision layer: the validated rules (--rules FILE, default insights/profiles/default.toml)
    # and how thresholds are set (--rules-profile: fixed, or percentiles of recent history).
    rules: RuleBook = field(default_factory=default_rules)
    rules_profile: Profile = "default"
    # Cross-venue view: how USDT prices become USD (never silently 1: it is shown in the view),
    # each venue's taker fee in basis points (DEFAULT_TAKER_FEES_BPS), and the largest venue-time
    # skew between two books for their price difference to count as an opportunity.
    usdt_usd: float = 1.0
    taker_fees_bps: tuple[tuple[str, float], ...] = ()
    max_skew_ms: float = 500.0
    # Recording (data_ingestion/recorder.py): where every raw message goes (None: off) and the
    # disk budget beyond which the oldest files are deleted (None: no budget).
    record: Path | None = None
    record_max_gb: float | None = None
    # The C allocator under hours-long runs (depthlens/allocator.py): glibc malloc arenas (0:
    # glibc's default, 8 per core) and the seconds between hand-backs of freed pages (0: never).
    malloc_arenas: int = 2
    malloc_trim_s: float = 60.0

    def taker_fee_bps(self, venue: str) -> float:
        """``venue``'s taker fee: the configured one, else its default tier's."""
        return dict(self.taker_fees_bps).get(venue, DEFAULT_TAKER_FEES_BPS[venue])


# Each venue's published taker fee at its entry tier (no discounts, no volume):
# Binance USD-M futures VIP 0 0.0500 %, Binance Spot regular 0.1000 %, Coinbase Advanced
# Trade's lowest tier 1.20 %. Yours may be lower: set --taker-fees-bps.
DEFAULT_TAKER_FEES_BPS: dict[str, float] = {BINANCE_USDM: 5.0, BINANCE_SPOT: 10.0,
                                            COINBASE: 120.0}


def _symbols(text: str) -> tuple[str, ...]:
    """Markets as ``venue:symbol`` or bare USDT-M symbols (``marketdata.markets``), returned as
    the runtime's keys (bare symbols for USDT-M)."""
    parts = [s for s in text.split(",") if s.strip()]
    if not parts:
        raise ConfigError("expected at least one symbol, e.g. BTCUSDT,ETHUSDT")
    markets = []
    for part in parts:
        try:
            market = MarketId.parse(part)
        except MarketIdError as exc:
            raise ConfigError(str(exc)) from None
        if market.venue not in WIRED_VENUES:
            raise ConfigError(f"{market}: {market.venue} markets cannot be started in this "
                              f"build (its feed is not wired into the app yet); venues: "
                              f"{', '.join(WIRED_VENUES)}")
        markets.append(market)
    names = tuple(m.key for m in markets)
    if len(set(names)) != len(names):
        raise ConfigError(f"symbol listed twice in {text!r}")
    return names


def _taker_fees(text: str) -> tuple[tuple[str, float], ...]:
    """``venue=bps,...``, e.g. ``coinbase=60,binance-spot=7.5``; unnamed venues keep theirs."""
    fees: dict[str, float] = {}
    for part in (p for p in text.split(",") if p.strip()):
        venue, sep, value = part.partition("=")
        venue = venue.strip().lower()
        if not sep or venue not in DEFAULT_TAKER_FEES_BPS:
            raise ConfigError(f"{part.strip()!r}: expected venue=bps with a venue among "
                              f"{', '.join(DEFAULT_TAKER_FEES_BPS)}")
        try:
            bps = float(value)
        except ValueError:
            raise ConfigError(f"{part.strip()!r}: {value.strip()!r} is not a number") from None
        if not math.isfinite(bps) or not 0 <= bps <= 1000:
            raise ConfigError(f"{part.strip()!r}: a fee must be 0-1000 bps")
        fees[venue] = bps
    if not fees:
        raise ConfigError("expected venue=bps, e.g. coinbase=60")
    return tuple(fees.items())


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise ConfigError(f"port {value} is outside 0-65535")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a number") from None


def _positive_float(text: str) -> float:
    value = _number(text)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{text!r} must be a positive number")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{text!r} must be zero or a positive number")
    return value


def _speed(text: str) -> float:
    return math.inf if text.strip().lower() == "max" else _positive_float(text)


def _clock(text: str) -> FrameClockKind:
    if text not in CLOCKS:
        raise ConfigError(f"{text!r} is not one of {', '.join(CLOCKS)}")
    return text  # type: ignore[return-value]


def _int_between(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise ConfigError(f"{value} is outside {lo}-{hi}")
        return value

    return parse


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        match = re.fullmatch(r"([a-z]+)://[^/\s]+(/\S*)?", text.strip())
        if not match or match.group(1) not in schemes:
            raise ConfigError(f"{text!r} is not a {' or '.join(schemes)} URL")
        return text.strip().rstrip("/")

    return parse


def _source(text: str) -> Source:
    text = _SOURCE_ALIASES.get(text, text)
    if text not in SOURCES:
        raise ConfigError(f"{text!r} is not one of {', '.join(SOURCES)}")
    return text  # type: ignore[return-value]


def _record_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{text!r} exists and is not a directory")
    return path


def _rules_profile(text: str) -> Profile:
    if text not in PROFILES:
        raise ConfigError(f"{text!r} is not one of {', '.join(PROFILES)}")
    return text  # type: ignore[return-value]


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{text!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return level


# flag name -> (parser, help). The environment variable is DEPTHLENS_<FLAG_IN_CAPS>.
_OPTIONS: dict[str, tuple[Callable[[str], object], str]] = {
    "source": (_source, "where books come from: sim (embedded local exchanges, offline), "
               "live (the venues, or any servers speaking their protocols, at the URLs "
               "below; 'binance' is its older name), replay (recorded files)"),
    "symbols": (_symbols, "comma-separated markets: venue:symbol or a bare USDT-M symbol "
                         "(BTCUSDT = binance-usdm:BTCUSDT)"),
    "host": (str, "address the API and dashboard bind to"),
    "port": (_port, "port of the API and dashboard (0 picks a free one)"),
    "binance-rest-url": (_url(("http", "https")), "Binance USDT-M REST base URL"),
    "binance-ws-url": (_url(("ws", "wss")), "Binance USDT-M WebSocket base URL "
                       "(depth under /public, aggTrade under /market)"),
    "binance-spot-rest-url": (_url(("http", "https")), "Binance Spot REST base URL"),
    "binance-spot-ws-url": (_url(("ws", "wss")), "Binance Spot WebSocket base URL "
                            "(combined streams at /stream)"),
    "coinbase-ws-url": (_url(("ws", "wss")), "Coinbase Advanced Trade WebSocket URL (level2, "
                        "market_trades, heartbeats; public books need no REST)"),
    "coinbase-rest-url": (_url(("http", "https")), "Coinbase Advanced Trade REST base URL, "
                          "read once per market for its increments (public products list)"),
    "speed": (_speed, "replay speed, times real time, or max (as fast as the CPU allows; "
              "--clock venue)"),
    "clock": (_clock, "what cuts frames: venue (a replay's own venue time: the same files give "
              "byte-identical frames on every run, without sockets) or wall (the wall clock; "
              "replays go through the embedded exchange's sockets). Default: venue for "
              "replays unless --scenarios or a Coinbase capture need the exchange, else wall"),
    "log-level": (_log_level, "DEBUG, INFO, WARNING or ERROR"),
    "top-n": (_int_between(1, 1000), "levels per side used by the features"),
    "history-seconds": (_int_between(10, 3600), "length of the rolling state, seconds"),
    "heatmap-band-bps": (_positive_float, "heatmap half-height around mid, basis points"),
    "heatmap-rows": (_int_between(10, 2000), "heatmap rows (price cells) across the band"),
    "stale-after-s": (_positive_float, "seconds without a book event before a symbol is stale"),
    "silence-timeout-s": (_positive_float, "seconds of silence before a depth socket is "
                          "reconnected"),
    "usdt-usd": (_positive_float, "USD per USDT, used to compare USDT and USD markets in the "
                 "cross-venue view (shown there)"),
    "taker-fees-bps": (_taker_fees, "taker fees for arbitrage edges, venue=bps,... (defaults: "
                       "binance-usdm=5, binance-spot=10, coinbase=120)"),
    "max-skew-ms": (_positive_float, "two books whose venue times differ by more than this "
                    "are not compared for arbitrage"),
    "record": (_record_dir, "record every raw message and REST snapshot of the Binance markets "
               "to this directory (hftbacktest .gz, one file per market per hour; replay them "
               "with --source replay or main.py export)"),
    "record-max-gb": (_positive_float, "disk budget of --record in GB: beyond it the oldest "
                      "files are deleted first"),
    "malloc-arenas": (_int_between(0, 64), "glibc malloc arenas (0: glibc's default, 8 per "
                      "core); fewer arenas keep less freed memory (README: Hours-long runs)"),
    "malloc-trim-s": (_non_negative_float, "seconds between handing freed memory back to the "
                      "OS (malloc_trim; 0: never)"),
    "rules-profile": (_rules_profile, "rule thresholds: default (the rules file's fixed "
                      "values) or calibrated (percentiles of the symbol's own last hour)"),
}


# Options naming a file that is read and validated at start: flag (= Config field) -> loader.
_FILE_OPTIONS: dict[str, Callable[[Path], object]] = {
    "scenarios": lambda path: tuple(load_scenarios(path)),
    "detectors": load_params,
    "rules": load_rules,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="main.py",
        description="depthlens: exact Binance USDT-M order books, features and a live dashboard.",
        epilog=f"Every option can also be set with an environment variable {ENV_PREFIX}<NAME> "
        f"(e.g. {ENV_PREFIX}SOURCE=binance); a flag wins over its variable.",
    )
    defaults = Config()
    for name, (_, help_text) in _OPTIONS.items():
        default = getattr(defaults, name.replace("-", "_"))
        if isinstance(default, tuple):
            default = ",".join(default)
        metavar = "DIR" if name == "record" else name.split("-")[-1].upper()
        parser.add_argument(f"--{name}", metavar=metavar,
                            help=f"{help_text} (default: {default})")
    parser.add_argument("--detectors", metavar="FILE", default=None,
                        help="TOML file overriding liquidity-event detector thresholds "
                        "(sections wall, sweep, absorption, layering, iceberg, exhaustion, "
                        "baseline; 'enabled = false' turns them off); see README")
    parser.add_argument("--rules", metavar="FILE", default=None,
                        help="TOML rules file for the insight panel (default: "
                        "insights/profiles/default.toml); see README")
    parser.add_argument("--scenarios", metavar="FILE", default=None,
                        help="TOML/JSON list of liquidity events to inject into the embedded "
                        "local exchange (--source sim or replay); see local_exchange/scenarios.py")
    parser.add_argument("--replay", nargs="+", metavar="FILE", default=None,
                        help="recording files (hftbacktest .gz format) for --source replay; "
                        "several files form one recording")
    return parser


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Build the config from flags and environment; raise ConfigError with a one-line message."""
    args = build_parser().parse_args(list(argv))
    values: dict[str, object] = {}
    for name, (parse, _) in _OPTIONS.items():
        attr = name.replace("-", "_")
        flag_value = getattr(args, attr)
        env_name = ENV_PREFIX + attr.upper()
        if flag_value is not None:
            origin, raw = f"--{name}", flag_value
        elif env_name in environ:
            origin, raw = env_name, environ[env_name]
        else:
            continue
        try:
            values[attr] = parse(raw)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    replay = args.replay
    if replay is None and ENV_PREFIX + "REPLAY" in environ:
        replay = environ[ENV_PREFIX + "REPLAY"].split()
    if replay:
        paths = tuple(Path(p) for p in replay)
        for path in paths:
            if not path.is_file():
                raise ConfigError(f"--replay: no such file: {path}")
        values["replay_files"] = paths
    for name, load in _FILE_OPTIONS.items():
        path = getattr(args, name) or environ.get(ENV_PREFIX + name.upper())
        if path:
            try:
                values[name] = load(Path(path))
            except (ScenarioError, ParamsError, RulesError) as exc:
                raise ConfigError(f"--{name}: {exc}") from None
    config = Config(**values)  # type: ignore[arg-type]
    if config.source == "replay" and not config.replay_files:
        raise ConfigError("--source replay needs --replay FILE...")
    if config.replay_files and config.source != "replay":
        raise ConfigError("--replay is only used with --source replay")
    config = _resolve_clock(config)
    if config.record_max_gb is not None and config.record is None:
        raise ConfigError("--record-max-gb needs --record DIR")
    if config.scenarios and config.source == "live":
        raise ConfigError("--scenarios needs the embedded exchange (--source sim or replay)")
    return config


def _resolve_clock(config: Config) -> Config:
    """Fill in the default clock and refuse combinations that cannot work."""
    needs_exchange = bool(config.scenarios) or any(
        p.name.endswith(".jsonl.zst") for p in config.replay_files)
    clock = config.clock
    if not clock:
        clock = "venue" if config.source == "replay" and not needs_exchange else "wall"
    elif clock == "venue" and config.source != "replay":
        raise ConfigError("--clock venue is for replays (--source replay)")
    elif clock == "venue" and needs_exchange:
        raise ConfigError("--clock venue replays without the embedded exchange: --scenarios "
                          "and Coinbase captures need --clock wall")
    if config.record is not None and clock == "venue":
        raise ConfigError("--record writes what arrives on the wire; a replay on the venue "
                          "clock has no wire (add --clock wall to record a replay)")
    if math.isinf(config.speed) and clock != "venue":
        raise ConfigError("--speed max needs the venue clock (--source replay --clock venue)")
    return replace(config, clock=clock)

