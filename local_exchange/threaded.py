"""Running a ``LocalExchange`` on its own event loop in a background thread.

main.py uses this so a busy API loop cannot stall the exchange. The exchange's state belongs to
its loop; every call from another thread is marshalled onto that loop and waited for, so fault
injection from a test or the API thread needs no locks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from local_exchange.exchange import LocalExchange

T = TypeVar("T")

# Exchange methods that ExchangeThread forwards (thread-safely) under the same name.
_FORWARDED = frozenset({
    "pause", "resume", "published_book", "submit_limit", "cancel_order", "submit_market",
    "drop_diff", "duplicate_diff", "reorder_diffs", "disconnect_all", "silence",
    "rest_rate_limit", "rest_server_error", "stale_snapshot", "malformed_frame", "spec",
    "inject", "truth", "add_symbol", "remove_symbol", "book", "dislocate",
})


class ExchangeThread:
    """A started exchange on a daemon thread. Use as a context manager or call ``stop()``.

    ``thread.drop_diff("BTCUSDT")`` (and every other fault/scenario method of ``LocalExchange``)
    runs on the exchange loop and returns its result; ``call(fn, *args)`` does the same for any
    callable.
    """

    def __init__(self, exchange: LocalExchange) -> None:
        self.exchange = exchange
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.finished = threading.Event()  # replay only: set when the recording has been sent

    def start(self, timeout_s: float = 30.0) -> ExchangeThread:
        self._thread = threading.Thread(target=self._main, name="local-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("local exchange did not start")
        if self._error is not None:
            raise RuntimeError("local exchange failed to start") from self._error
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout_s)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the exchange loop and return its result."""
        if self._loop is None:
            raise RuntimeError("exchange thread not running")
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the calling thread, not swallowed
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in _FORWARDED:
            method = getattr(self.exchange, name)
            return lambda *args, **kwargs: self.call(method, *args, **kwargs)
        raise AttributeError(name)

    @property
    def rest_url(self) -> str:
        return self.exchange.rest_url

    @property
    def ws_url(self) -> str:
        return self.exchange.ws_url

    def __enter__(self) -> ExchangeThread:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.exchange.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        self._ready.set()
        watcher = asyncio.create_task(self._watch_finished())
        try:
            await self._stop.wait()
        finally:
            watcher.cancel()
            await self.exchange.stop()

    async def _watch_finished(self) -> None:
        if self.exchange.is_replay:
            await self.exchange.wait_finished()
            self.finished.set()
