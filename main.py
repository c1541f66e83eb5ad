"""depthlens entry point: ``python main.py [--source sim|binance|replay] ...`` (``--help``).

Builds the one frozen config from flags and DEPTHLENS_* variables, then serves the API, the frame
WebSocket and the dashboard on one port with uvicorn.
"""

from __future__ import annotations

import logging
import os
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


def serve(config: Config) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(config)
    print(f"depthlens: dashboard and API on http://{config.host}:{config.port}/ "
          f"(source: {config.source})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level=config.log_level.lower(),
                ws_ping_interval=20.0, ws_ping_timeout=20.0, log_config=None, access_log=False,
                # Compressing each frame once per viewer costs more CPU than the bandwidth saves
                # on the loopback and LAN links a dashboard runs on (benchmarks/fanout.py).
                ws_per_message_deflate=False)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
        from api.sources import check_source

        check_source(config)
    except ConfigError as exc:
        print(f"main.py: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    try:
        serve(config)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
