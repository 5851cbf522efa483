"""The registry of periodic jobs. Each domain registers its own (`@periodic(...)` in its `jobs`
module); the worker (api.worker) runs them. Kept in core so domains register without importing
the worker, which imports every domain's jobs (api.jobs): the layers point one way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

Job = Callable[[Engine], object]


@dataclass
class PeriodicJob:
    name: str
    every_seconds: float
    run: Job
    last_run: float = 0.0


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every_seconds: float) -> Callable[[Job], Job]:
    """Register a job; it receives the engine and opens its own sessions."""

    def register(fn: Job) -> Job:
        _jobs[name] = PeriodicJob(name, every_seconds, fn)
        return fn

    return register


def jobs() -> dict[str, PeriodicJob]:
    """The jobs registered so far (the worker imports api.jobs first, which registers them all)."""
    return _jobs
