"""Serving the real depthlens app (uvicorn, real port on 127.0.0.1) inside a test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.runtime import Runtime
from config import Config
from tests.client_harness import until


@dataclass
class ServedApp:
    app: FastAPI
    host: str

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime  # type: ignore[no-any-return]

    @property
    def http(self) -> str:
        return f"http://{self.host}"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}"

    @property
    def exchange(self):  # type: ignore[no-untyped-def]
        """The embedded exchange's thread handle (pause, published_book, faults...)."""
        return self.runtime.source.exchange  # type: ignore[union-attr]

    async def all_live(self, timeout_s: float = 60.0) -> None:
        rt = self.runtime
        await until(lambda: bool(rt.engines) and all(
            e.status() == "live" for e in rt.engines.values()), timeout_s, "every book live")


@asynccontextmanager
async def serve_app(config: Config | None = None, with_dashboard: bool = False,
                    ) -> AsyncIterator[ServedApp]:
    app = create_app(config or Config(port=0, symbols=("BTCUSDT", "ETHUSDT")),
                     with_dashboard=with_dashboard)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or task.done(), 60, "the server to start")
        if task.done():
            task.result()
            raise AssertionError("server stopped during startup")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield ServedApp(app, f"127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
