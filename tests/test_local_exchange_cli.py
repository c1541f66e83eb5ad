"""``python -m local_exchange`` as a bot developer runs it: a real process, real sockets.

Flag errors are one line and exit 2; a running exchange prints its URLs, serves REST and
WebSocket (over TLS with ``--tls``, trusting only the printed certificate), applies scheduled
faults, and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from local_exchange.__main__ import Fault, UsageError, parse_duration, parse_faults
from local_exchange.tls import make_self_signed
from tests.conftest import ROOT, USDM

CLI = [sys.executable, "-m", "local_exchange"]


@dataclass
class Running:
    proc: subprocess.Popen[str]
    lines: list[str]

    def value(self, prefix: str) -> str:
        return next(line for line in self.lines if line.startswith(prefix)).split(": ", 1)[1]

    @property
    def rest(self) -> str:
        return self.value("REST")

    @property
    def ws(self) -> str:
        return self.rest.replace("http", "ws", 1)


@contextmanager
def running(*args: str) -> Iterator[Running]:
    """Start the CLI, read its banner up to 'Ctrl-C to stop', stop it with SIGINT after."""
    proc = subprocess.Popen([*CLI, "--log-level", "WARNING", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C to stop"):
                break
        else:
            raise AssertionError(f"no banner; stderr: {proc.stderr.read() if proc.stderr else ''}")
        yield Running(proc, lines)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert out.strip().endswith("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, text=True, capture_output=True, timeout=60,
                          check=False)


# ----------------------------------------------------------------- fault syntax
def test_parse_faults_reads_actions_arguments_times_and_repeats() -> None:
    faults = parse_faults("drop:BTCUSDT@10s, disconnect@1m/30s,silence:2s@500ms,"
                          "ratelimit:3:5@2,server_error:1:502@1.5s,malformed:ETHUSDT:missing_fields@3s")
    assert faults == [
        Fault("drop", ("BTCUSDT",), 10.0), Fault("disconnect", (), 60.0, 30.0),
        Fault("silence", ("2s",), 0.5), Fault("ratelimit", ("3", "5"), 2.0),
        Fault("server_error", ("1", "502"), 1.5),
        Fault("malformed", ("ETHUSDT", "missing_fields"), 3.0)]
    assert parse_duration("250ms") == 0.25


@pytest.mark.parametrize(("spec", "says"), [
    ("drop:BTCUSDT", "missing '@TIME'"), ("explode@1s", "unknown action"),
    ("drop@1s", "expected drop:SYM"), ("disconnect:x@1s", "expected disconnect"),
    ("ratelimit:-1@1s", "not a positive integer"), ("drop:BTCUSDT@soon", "not a duration"),
    ("malformed:BTCUSDT:garbage@1s", "malformed kind"), ("server_error:1:404@1s", "5xx"),
    ("disconnect@1s/0s", "positive"),
])
def test_parse_faults_rejects_bad_specs_naming_the_problem(spec: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_faults(spec)


# ------------------------------------------------------------------ bad flags
@pytest.mark.parametrize(("args", "says"), [
    (["--port", "http"], "not a port number"), (["--symbols", "NOPEUSDT"], "not listed"),
    (["--faults", "drop:XRPUSDT@1s", "--symbols", "BTCUSDT"], "XRPUSDT is not served"),
    (["--replay", "/nonexistent/x.gz"], "is not a file"), (["--speed", "0"], "must be positive"),
    (["--dialect", "kraken"], "invalid choice"), (["--frobnicate"], "unrecognized"),
])
def test_bad_flags_get_one_line_and_exit_2(args: list[str], says: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


def test_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run_cli("--port", str(taken.getsockname()[1]), "--log-level", "WARNING")
    assert done.returncode == 1 and "address already in use" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_help_lists_flags_and_fault_actions() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    for word in ("--port", "--symbols", "--replay", "--speed", "--faults", "--tls", "--seed",
                 "--dialect", "drop:SYM", "disconnect", "ratelimit[:N[:RETRY_S]]"):
        assert word in done.stdout


# --------------------------------------------------------------- running process
def test_serves_rest_and_streams_and_stops_on_ctrl_c() -> None:
    with running("--symbols", "ETHUSDT", "--seed", "7") as ex:
        assert "simulating ETHUSDT" in ex.lines[0]
        assert any(line.startswith("WebSocket market") for line in ex.lines)
        depth = httpx.get(f"{ex.rest}/fapi/v1/depth", params={"symbol": "ETHUSDT"}).json()
        assert depth["bids"] and depth["asks"]
        assert float(depth["bids"][0][0]) < float(depth["asks"][0][0])
        frames = asyncio.run(_collect(f"{ex.ws}/public/ws/ethusdt@depth@100ms", 1.0))
        assert frames and all(f["e"] == "depthUpdate" and f["s"] == "ETHUSDT" for f in frames)


def test_spot_dialect_serves_spot_paths() -> None:
    with running("--dialect", "binance-spot", "--symbols", "BTCUSDT") as ex:
        assert "binance-spot" in ex.lines[0]
        assert ex.value("WebSocket").startswith(f"{ex.ws}/ws/")
        depth = httpx.get(f"{ex.rest}/api/v3/depth", params={"symbol": "BTCUSDT"}).json()
        assert depth["lastUpdateId"] > 0 and "E" not in depth  # Spot's snapshot has no E/T
        frames = asyncio.run(_collect(f"{ex.ws}/ws/btcusdt@depth@100ms", 1.0))
        assert frames and "pu" not in frames[0]


def test_scheduled_drop_breaks_the_diff_chain_once() -> None:
    with running("--symbols", "BTCUSDT", "--faults", "drop:BTCUSDT@1500ms") as ex:
        frames = asyncio.run(_collect(f"{ex.ws}/public/ws/btcusdt@depth@100ms", 3.0))
    breaks = [b for a, b in itertools.pairwise(frames) if b["pu"] != a["u"]]
    assert len(frames) > 15 and len(breaks) == 1, [(f["pu"], f["u"]) for f in frames]


def test_scheduled_disconnect_aborts_open_websockets() -> None:
    with running("--symbols", "BTCUSDT", "--faults", "disconnect@1s") as ex:
        started = time.monotonic()
        frames = asyncio.run(_collect(f"{ex.ws}/public/ws/btcusdt@depth@100ms", 5.0))
        assert time.monotonic() - started < 4.0  # cut by the fault, not the 5 s timeout
        assert frames


def test_tls_serves_https_and_wss_to_clients_trusting_the_printed_certificate() -> None:
    with running("--symbols", "BTCUSDT", "--tls") as ex:
        cert = Path(ex.value("certificate").split(" ")[0])
        assert ex.rest.startswith("https://") and cert.is_file()
        trusting = ssl.create_default_context(cafile=str(cert))
        depth = httpx.get(f"{ex.rest}/fapi/v1/depth", params={"symbol": "BTCUSDT"},
                          verify=trusting).json()
        assert depth["lastUpdateId"] > 0
        with pytest.raises(httpx.ConnectError):  # not trusted by default: really TLS
            httpx.get(f"{ex.rest}/fapi/v1/depth", params={"symbol": "BTCUSDT"})
        wss = ex.rest.replace("https", "wss", 1)
        frames = asyncio.run(_collect(f"{wss}/public/ws/btcusdt@depth@100ms", 1.0, trusting))
        assert frames and frames[0]["e"] == "depthUpdate"


def test_replays_a_recording() -> None:
    recording = USDM / "hftbacktest_usdm_btcusdt_20240718.gz"
    with running("--replay", str(recording), "--speed", "20") as ex:
        assert "replaying BTCUSDT" in ex.lines[0]
        deadline = time.monotonic() + 20
        while True:  # the book exists once the recording's snapshot has been read
            resp = httpx.get(f"{ex.rest}/fapi/v1/depth", params={"symbol": "BTCUSDT"})
            if resp.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert resp.status_code == 200 and resp.json()["lastUpdateId"] > 0


def test_self_signed_certificate_names_localhost_and_loopback(tmp_path: Path) -> None:
    made = make_self_signed(tmp_path)
    assert made.cert_path.parent == tmp_path and made.key_path.stat().st_mode & 0o077 == 0
    info = ssl._ssl._test_decode_cert(str(made.cert_path))  # type: ignore[attr-defined]
    assert set(info["subjectAltName"]) == {("DNS", "localhost"), ("IP Address", "127.0.0.1")}


async def _collect(url: str, seconds: float,
                   context: ssl.SSLContext | None = None) -> list[dict[str, object]]:
    frames: list[dict[str, object]] = []
    try:
        async with connect(url, ssl=context) as ws:
            async with asyncio.timeout(seconds):
                async for raw in ws:
                    frames.append(orjson.loads(raw))
    except (TimeoutError, ConnectionClosed):
        pass  # the time is up, or the server cut the connection: what came so far counts
    return frames
