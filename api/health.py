from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.core.errors import SyndicateError, Unmigrated
from api.core.migrations import is_current
from api.core.problems import problem_response
from api.deps import EngineDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated",
            responses={503: {"description": "Not ready", "content": {"application/problem+json": {}}}})
def readyz(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = is_current(engine, settings.database_url)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem_response(status=503, type_="/problems/database-unreachable", title="Database unreachable",
                                detail=type(exc).__name__, instance="/readyz")
    if not current:
        return problem_response(status=503, type_=Unmigrated.type_uri(), title=Unmigrated.title,
                                detail="Run `syndicate db upgrade`.", instance="/readyz")
    return JSONResponse({"status": "ready"})


@router.get("/problems/{slug}", summary="What a problem type means", tags=["health"])
def problem_type(slug: str) -> dict[str, object]:
    err = SyndicateError.registry.get(slug)
    if err is None:
        from api.core.errors import NotFound
        raise NotFound(f"No problem type {slug!r}.")
    return {"type": err.type_uri(), "title": err.title, "status": err.status, "description": (err.__doc__ or "").strip() or None}
