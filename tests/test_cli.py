"""main.py's command line: defaults, environment, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.sources import check_source
from config import ConfigError, parse_config
from marketdata.markets import MarketId

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_environment_with_flags_winning() -> None:
    config = parse_config([], {})
    assert (config.source, config.symbols, config.host, config.port) == (
        "sim", (), "127.0.0.1", 8000)
    # No --symbols: each source's own default; offline that is three venues and four assets.
    assert check_source(config) == ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT",
                                    "binance-spot:BTCUSDT", "coinbase:BTC-USD")
    assert check_source(parse_config(["--source", "binance"], {})) == ("BTCUSDT", "ETHUSDT")
    assert config.binance_rest_url == "https://fapi.binance.com"
    assert config.binance_ws_url == "wss://fstream.binance.com"
    env = {"DEPTHLENS_PORT": "9001", "DEPTHLENS_SYMBOLS": "solusdt", "DEPTHLENS_SPEED": "4"}
    config = parse_config(["--port", "9002"], env)
    assert (config.port, config.symbols, config.speed) == (9002, ("SOLUSDT",), 4.0)


@pytest.mark.parametrize("argv, env, fragment", [
    (["--port", "http"], {}, "--port"),
    (["--speed", "0"], {}, "--speed"),
    (["--source", "kraken"], {}, "--source"),
    (["--symbols", "BTC-USD"], {}, "--symbols"),
    (["--symbols", "kraken:XBTUSD"], {}, "unknown venue 'kraken'"),
    (["--symbols", "coinbase:BTCUSD"], {}, "not a coinbase symbol"),
    (["--symbols", "BTCUSDT,binance-usdm:btcusdt"], {}, "listed twice"),
    (["--binance-ws-url", "http://x"], {}, "--binance-ws-url"),
    ([], {"DEPTHLENS_PORT": "-5"}, "DEPTHLENS_PORT"),
    (["--source", "replay"], {}, "--replay"),
    (["--source", "replay", "--replay", "/no/such/file.gz"], {}, "no such file"),
])
def test_bad_values_name_the_culprit(argv, env, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=fragment):
        parse_config(argv, env)


def test_bad_flag_is_one_line_and_exit_status_2() -> None:
    result = subprocess.run([sys.executable, "main.py", "--port", "99999"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--port" in lines[0] and "Traceback" not in result.stderr


def test_help_documents_every_flag() -> None:
    result = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--source", "--symbols", "--host", "--port", "--binance-rest-url",
                 "--binance-ws-url", "--replay", "--speed"):
        assert flag in result.stdout


def test_a_taken_port_is_a_one_line_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "main.py", "--port", str(port)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--port" in lines[0]


def test_markets_are_named_venue_colon_symbol_and_a_bare_symbol_is_usdm() -> None:
    config = parse_config(["--symbols", "binance-usdm:btcusdt, ETHUSDT"], {})
    assert config.symbols == ("BTCUSDT", "ETHUSDT")
    assert [str(MarketId.parse(s)) for s in config.symbols] == [
        "binance-usdm:BTCUSDT", "binance-usdm:ETHUSDT"]
    assert MarketId.parse(" Coinbase:btc-usd ") == MarketId("coinbase", "BTC-USD")
    assert MarketId.parse("coinbase:BTC-USD").key == "coinbase:BTC-USD"
    spot = parse_config(["--symbols", "BTCUSDT,binance-spot:btcusdt"], {})
    assert spot.symbols == ("BTCUSDT", "binance-spot:BTCUSDT")
    assert parse_config(["--symbols", "coinbase:btc-usd"], {}).symbols == ("coinbase:BTC-USD",)
    # Every venue is live-capable; "binance" is the older name of the live source.
    live = parse_config(["--source", "binance", "--symbols", "coinbase:BTC-USD,BTCUSDT"], {})
    assert live.source == "live"
    assert check_source(live) == ("coinbase:BTC-USD", "BTCUSDT")
    # What a source cannot serve is refused with a message before anything starts.
    with pytest.raises(ConfigError, match="simulator models binance-spot"):
        check_source(parse_config(["--symbols", "binance-spot:XRPUSDT"], {}))
