"""The application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hitloop.api.context import AppContext
from hitloop.api.errors import install_error_handlers
from hitloop.api.limits import BodySizeLimit
from hitloop.api.routes import audit, auth, boxes, gold, items, jobs, members, models, projects, review
from hitloop.api.shortcut import Shortcut
from hitloop.schemas import Health
from hitloop.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, context: AppContext | None = None) -> FastAPI:
    """Build the ASGI app. The database is migrated when the app starts."""
    settings = settings or (context.settings if context else get_settings())
    ctx = context or AppContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from hitloop.jobs import JobRunner
        from hitloop.services.items import cleanup_interrupted_imports
        from hitloop.services.jobs import builtin_jobs

        ctx.db.upgrade()
        cleanup_interrupted_imports(ctx.db)
        # Background jobs (featurize, train, score) run on threads of this process, unless
        # job_threads is 0: then they wait in the database for a `hitloop worker` process.
        runner = JobRunner(ctx.db, ctx.settings, builtin_jobs()) if ctx.settings.job_threads else None
        if runner is not None:
            runner.start()
        app.state.jobs = runner
        # Everything loaded so far (the app, SQLAlchemy, numpy, scikit-learn: ~200k objects) lives
        # as long as the process. Frozen, the collector stops walking it: a full collection
        # took 128 ms before and 0.01 ms after, a pause every request in flight would wait for.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again (tests start and stop many apps in one process)
            if runner is not None:
                runner.stop()
            ctx.db.dispose()

    app = FastAPI(
        title="hitloop",
        version="0.1.0",
        summary="Human-in-the-loop machine learning: label, model in the loop, review.",
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    install_error_handlers(app)

    @app.get("/api/health", response_model=Health, tags=["health"])
    async def health() -> Health:
        return Health(status="ok")

    app.include_router(auth.router)
    app.include_router(projects.router)
    app.include_router(items.router)
    app.include_router(boxes.router)
    app.include_router(members.router)
    app.include_router(gold.router)
    app.include_router(review.router)
    app.include_router(audit.router)
    app.include_router(jobs.router)
    app.include_router(models.router)
    # Imported here: hitloop.web builds on hitloop.api (deps, errors), so a
    # module-level import would be circular whichever package is imported first.
    from hitloop.web.pages import install_web

    install_web(app)
    # The loop's hot routes skip the router's walk (hitloop.api.shortcut); added first, so the
    # body limit (added last, the outermost) still applies to them.
    app.add_middleware(
        Shortcut,
        fastapi=app,
        routes=[
            ("POST", r"/api/projects/(\d{1,10})/next", projects.next_items),
            ("POST", r"/api/items/(\d{1,10})/annotations", items.submit),
        ],
    )
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_bytes)
    return app
