"""depthlens entry point: ``python main.py [--source sim|live|replay] ...`` (``--help``), and
``python main.py export FILES... --out DIR`` (recordings to Parquet, ``depthlens/export.py``).

Builds the one frozen config from flags and DEPTHLENS_* variables, then serves the API, the frame
WebSocket and the dashboard on one port with uvicorn.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Sequence

from config import Config, ConfigError, parse_config


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Per-request access lines would drown the feed's own log.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for chatty in ("websockets.server", "websockets.client", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def check_port_free(host: str, port: int) -> None:
    """Fail fast, in one line, when the port is taken (before starting the exchange and feeds)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"--port: cannot listen on {host}:{port} ({exc.strerror}); "
                              "is depthlens already running? choose another --port") from None


def serve(config: Config, symbols: tuple[str, ...]) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(config, symbols=symbols)
    where = (f"http://{config.host}:{config.port}/" if config.port
             else f"a free port of {config.host} (uvicorn's next line names it)")
    print(f"depthlens: dashboard and API on {where} (source: {config.source})",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level=config.log_level.lower(),
                ws_ping_interval=20.0, ws_ping_timeout=20.0, log_config=None, access_log=False,
                # Compressing each frame once per viewer costs more CPU than the bandwidth saves
                # on the loopback and LAN links a dashboard runs on (benchmarks/fanout.py).
                ws_per_message_deflate=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["export"]:
        from depthlens.export import run

        return run(args[1:], Config())
    try:
        config = parse_config(args, os.environ)
        from api.sources import check_source

        symbols = check_source(config)
        check_port_free(config.host, config.port)
    except ConfigError as exc:
        print(f"main.py: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("depthlens").warning(
            "listening on %s: the API and dashboard are reachable from other machines", config.host)
    try:
        serve(config, symbols)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
