"""The app factory: ``create_app(settings)`` for tests and embedding, ``app_from_env()`` for uvicorn workers.

Each process builds one :class:`~sorter.serving.Sorter` (onnxruntime threads from the settings)
and one engine, and loads every model before it says it is ready. Nothing another worker or host
would need is kept in memory: records, sort rules, jobs and the browser sessions' secret live in the
database; a looked-up key is trusted for at most 1 s per process (``api.deps.KEY_CACHE_S``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api import problems
from api.db.engine import make_engine, session_factory, upgrade
from api.direct import DirectRoutes
from api.middleware import ServiceMiddleware
from api.pages import ui
from api.routes import health, heats, inventory, jobs, keys, lines, lots, pieces, recipes, reports
from api.settings import Settings, load_settings
from sorter.serving import Sorter

log = logging.getLogger("api")
# every router of the app (tests walk their routes beside the published schema)
ROUTERS = (pieces.router, lines.router, keys.router, health.router,
           lots.router, inventory.router, recipes.router, heats.router, jobs.router, reports.router)


def _load_models(sorter: Sorter) -> None:
    for name in sorter.model_names:
        sorter.runtime(name)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(upgrade, app.state.engine)
        await run_in_threadpool(_load_models, app.state.sorter)
        app.state.models_loaded = True
        log.info("ready: models %s, database %s", ", ".join(app.state.sorter.model_names),
                 app.state.engine.url.render_as_string(hide_password=True))
        yield
        app.state.models_loaded = False
        app.state.engine.dispose()

    app = FastAPI(title="aluloop sorting service", version="1", lifespan=lifespan,
                  description="Classify LIBS spectra of scrap pieces for sorting lines and record every result. "
                              "Send keys as `Authorization: Bearer KEY`; errors are RFC 9457 problem+json.")
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    app.state.sessions = session_factory(app.state.engine)
    app.state.sorter = Sorter(settings.models, threads=settings.threads())
    app.state.models_loaded = False
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(ui.router)   # the browser UI (cookies, not keys): outside ROUTERS and the schema
    app.state.http_routes = [r for router in ROUTERS for r in router.routes if hasattr(r, "methods")]
    app.add_middleware(ServiceMiddleware, max_body_bytes=settings.max_body_bytes, direct=DirectRoutes(app))
    return app


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker, configured from ``ALULOOP_*`` and ``$ALULOOP_CONFIG``."""
    return create_app(load_settings())
