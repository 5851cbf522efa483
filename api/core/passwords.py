"""Argon2 password hashing, bounded so that logins cannot starve the thread pool.

Argon2 is deliberately slow (tens of milliseconds of CPU and memory per hash). The async functions
run it in worker threads drawn from their own small `CapacityLimiter`: a flood of logins waits on
the event loop for one of those slots, holding no thread, so the thread pool that serves every
synchronous endpoint stays free. The synchronous functions (CLI, staff creation) share a semaphore
of the same size.

The cost comes from the settings (`password_hash_*`, production strength by default; tests choose
the cheapest): `configure` is called by whatever builds the process's settings (the app, the CLI),
since the services that hash take no settings. A hash made with other parameters still verifies
(they are written in it) and is rehashed at the next login.
"""

from __future__ import annotations

import threading

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.core.config import PRODUCTION_PASSWORD_HASHING, Settings

HASHING_SLOTS = 2

_slots = threading.BoundedSemaphore(HASHING_SLOTS)
_async_slots = CapacityLimiter(HASHING_SLOTS)


def _hasher_with(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


_hasher = _hasher_with(**PRODUCTION_PASSWORD_HASHING)
# Verified against when the e-mail is unknown, so both paths cost the same: made with the current
# hasher when first needed (or by `prepare` once the server listens), not at import, where its
# tens of milliseconds at production strength were paid by every start and every command.
_dummy: tuple[PasswordHasher, str] | None = None


_SETTINGS = ("password_hash_time_cost", "password_hash_memory_kib", "password_hash_parallelism")


def configure(settings: Settings) -> None:
    """Hash and verify with the settings' Argon2 cost from now on (the whole process).

    Only a cost the settings name (an environment variable, an argument) is applied: the process
    starts at production strength, and settings left at their defaults leave it as it is, so an app
    built for a moment in a process that chose another cost (the contract renderer inside the test
    run) does not undo that choice."""
    global _hasher
    if not settings.model_fields_set & set(_SETTINGS):
        return
    wanted = tuple(getattr(settings, name) for name in _SETTINGS)
    if wanted != (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism):
        _hasher = _hasher_with(*wanted)


def _dummy_hash() -> str:
    """The timing equaliser for the current cost. Two threads may both make it the first time;
    either result does."""
    global _dummy
    hasher, dummy = _hasher, _dummy
    if dummy is None or dummy[0] is not hasher:
        dummy = _dummy = (hasher, hasher.hash("syndicate-timing-equaliser"))
    return dummy[1]


def prepare() -> None:
    """Make the timing equaliser now (the server calls this once it listens, off the event loop),
    so the first login for an unknown e-mail costs what any other does."""
    _dummy_hash()


def has_dummy_hash() -> bool:
    """Whether the equaliser for the current cost is made."""
    return _dummy is not None and _dummy[0] is _hasher


def current_parameters() -> dict[str, int]:
    return {"time_cost": _hasher.time_cost, "memory_kib": _hasher.memory_cost, "parallelism": _hasher.parallelism}


def _hash(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_password(password: str) -> str:
    with _slots:
        return _hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    with _slots:
        return _verify(password_hash, password)


async def hash_password_async(password: str) -> str:
    return await to_thread.run_sync(_hash, password, limiter=_async_slots)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await to_thread.run_sync(_verify, password_hash, password, limiter=_async_slots)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
