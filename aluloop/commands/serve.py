"""``aluloop serve``: the sorting service under uvicorn (``pip install 'aluloop[api]'``).

The database is upgraded once here, before the workers start, so that several workers never race
to migrate it; each worker then builds its app from the same ``ALULOOP_*`` settings
(``api.main.app_from_env``). SIGTERM or Ctrl-C lets requests in flight finish (up to
``shutdown_grace_s``) before the processes exit. With ``--opcua-endpoint`` one companion process
(``python -m api.opcua``) serves the committed results over OPC UA Machine Vision (docs/opcua.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import typer

from aluloop.errors import fail, user_errors


def need_api():
    """The ``api`` package, or a one-line error saying which extra to install."""
    try:
        import api.main
    except ImportError as exc:
        raise fail(f"the service needs the api extra ({exc.name} is missing): pip install 'aluloop[api]'") from None
    return api.main


def log_config() -> dict:
    """uvicorn's logging plus the service's loggers; the access log is one JSON object a line on stdout."""
    from uvicorn.config import LOGGING_CONFIG

    config = {**LOGGING_CONFIG, "formatters": {**LOGGING_CONFIG["formatters"], "json_line": {"format": "%(message)s"}},
              "handlers": {**LOGGING_CONFIG["handlers"],
                           "json_access": {"class": "logging.StreamHandler", "formatter": "json_line",
                                           "stream": "ext://sys.stdout"}},
              "loggers": {**LOGGING_CONFIG["loggers"],
                          "api": {"handlers": ["default"], "level": "INFO", "propagate": False},
                          "api.access": {"handlers": ["json_access"], "level": "INFO", "propagate": False}}}
    return config


def serve(
    host: str = typer.Option(None, "--host", help="Address to bind (setting host; default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port to bind (setting port; default 8000)."),
    workers: int = typer.Option(None, "--workers", help="Worker processes (setting workers; default 1)."),
    config: Path = typer.Option(None, "--config", help="TOML settings file (default $ALULOOP_CONFIG)."),
    opcua_endpoint: str = typer.Option(None, "--opcua-endpoint", help="Also serve results over OPC UA Machine "
                                       "Vision at opc.tcp://HOST:PORT (setting opcua_endpoint; default none)."),
) -> None:
    """Run the sorting service: classify pieces over HTTP and record every result."""
    main = need_api()
    import uvicorn

    from api.db.engine import make_engine, upgrade
    from api.settings import load_settings

    settings = load_settings(config, host=host, port=port, workers=workers, opcua_endpoint=opcua_endpoint)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    upgrade(engine)
    engine.dispose()
    # the workers read their settings from the environment: hand them exactly these
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"ALULOOP_{name.upper()}"] = str(value)
    os.environ["ALULOOP_MIGRATE_ON_START"] = "false"
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aluloop-metrics-")
    # the OPC UA bridge is one companion process whatever the workers: it follows committed records in the database
    bridge = subprocess.Popen([sys.executable, "-m", "api.opcua"]) if settings.opcua_endpoint else None
    try:
        uvicorn.run(f"{main.__name__}:app_from_env", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, access_log=False, log_config=log_config(),
                    timeout_graceful_shutdown=int(settings.shutdown_grace_s) or None)
    finally:
        if bridge is not None:
            bridge.terminate()
            bridge.wait(timeout=30)


serve = user_errors(serve)
