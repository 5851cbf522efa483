"""Liveness, readiness and the problem-type documentation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.core.errors import DatabaseUnreachable, NotFound, Starting, SyndicateError, Unmigrated
from api.core.problems import error_responses
from api.core.readiness import check_ready
from api.deps import EngineDep, SettingsDep

router = APIRouter(tags=["health"])


class HealthStatus(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})
    status: str = Field(description="`ok` while the process runs.")


class ReadyStatus(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ready"}]})
    status: str = Field(description="`ready` when the database answers and is migrated, and the server has "
                                    "started its background work.")


class ProblemType(BaseModel):
    """What one problem `type` means."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "/problems/bad-cursor", "title": "The pagination cursor is not valid", "status": 422,
        "description": "The pagination `cursor` is malformed or belongs to another listing; start the listing again "
                       "without it.",
    }, {
        "type": "/problems/database-unreachable", "title": "Database unreachable", "status": 503,
        "description": "The service cannot open a connection to its database, or the database refused the probe; "
                       "nothing was run. Retry later.",
    }]})
    type: str
    title: str
    status: int
    description: str | None


@router.get("/healthz", response_model=HealthStatus, operation_id="health.live", summary="The process is up")
async def healthz() -> HealthStatus:
    # On the event loop, touching neither the thread pool nor the database: it answers while every
    # API thread and connection is busy.
    return HealthStatus(status="ok")


# How long /readyz waits for the work started once the server listens (a moment: threads to start).
STARTING_PATIENCE_SECONDS = 2.0


async def started(request: Request) -> None:
    """Raise Starting while the work the server starts once it listens (api.core.startup) is not done."""
    after = getattr(request.app.state, "after_listening", None)
    if after is not None and not await after.wait(STARTING_PATIENCE_SECONDS):
        detail = ("Starting its background work failed; see the server's log." if after.failed is not None
                  else "The server is starting its background work; retry in a moment.")
        raise Starting(detail, headers={"Retry-After": "1"})


@router.get("/readyz", response_model=ReadyStatus, operation_id="health.ready",
            summary="The database is reachable and migrated, and the server has started",
            responses=error_responses(DatabaseUnreachable, Unmigrated, Starting), dependencies=[Depends(started)])
def readyz(engine: EngineDep, settings: SettingsDep) -> ReadyStatus:
    check_ready(engine, settings.database_url)
    return ReadyStatus(status="ready")


@router.get("/problems/{slug}", response_model=ProblemType, operation_id="problems.get", summary="What a problem type means",
            responses=error_responses(NotFound))
def problem_type(slug: str) -> dict[str, Any]:
    err = SyndicateError.registry.get(slug)
    if err is None:
        raise NotFound(f"No problem type {slug!r}.")
    # Docstrings wrap at the line length; the page states them as one paragraph.
    description = " ".join((err.__doc__ or "").split()) or None
    return {"type": err.type_uri(), "title": err.title, "status": err.status, "description": description}
