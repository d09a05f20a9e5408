"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from outdial import __version__
from outdial.agents.api import router as agents_router
from outdial.api import handlers
from outdial.calldata.api import router as calldata_router
from outdial.campaigns.api import router as campaigns_router
from outdial.context import AppContext
from outdial.engine.api import router as engine_router
from outdial.imports.api import router as imports_router
from outdial.results.api import router as results_router
from outdial.workers import WorkerSet, registered_workers


def create_app(ctx: AppContext, *, run_workers: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        workers = WorkerSet(ctx, registered_workers()) if run_workers else None
        if workers:
            workers.start()
        try:
            yield
        finally:
            if workers:
                workers.shutdown()

    app = FastAPI(
        title="outdial",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,  # a path with a trailing slash is an unknown path (404), never a redirect
    )
    app.state.ctx = ctx
    handlers.install(app)
    for router in (campaigns_router, calldata_router, imports_router, results_router, engine_router, agents_router):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        with ctx.db.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return JSONResponse({"status": "ok", "version": __version__})

    return app
