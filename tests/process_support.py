"""main.py as a user runs it, for the tests: a real process on a free port, and its /health."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def depthlens(*args: str) -> Iterator[httpx.Client]:
    port = free_port()
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "test-artifacts" / f"main-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "main.py", "--port", str(port), *args], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            yield http
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


Health = dict[str, Any]


def wait_health(http: httpx.Client, ok: Callable[[Health], bool],
                timeout_s: float = 60) -> Health:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = http.get("/health").json()
            if ok(last):  # type: ignore[arg-type]
                return last  # type: ignore[return-value]
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"health never satisfied the condition; last: {last}")


def all_live(health: Health) -> bool:
    return health["status"] == "ok"


