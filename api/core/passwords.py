"""Argon2 password hashing, bounded so that logins cannot starve the thread pool.

Argon2 is deliberately slow (tens of milliseconds of CPU and memory per hash). The async functions
run it in worker threads drawn from their own small `CapacityLimiter`: a flood of logins waits on
the event loop for one of those slots, holding no thread, so the thread pool that serves every
synchronous endpoint stays free. The synchronous functions (CLI, staff creation) share a semaphore
of the same size.
"""

from __future__ import annotations

import threading

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHING_SLOTS = 2

_hasher = PasswordHasher()
_slots = threading.BoundedSemaphore(HASHING_SLOTS)
_async_slots = CapacityLimiter(HASHING_SLOTS)
# Verified against when the e-mail is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("syndicate-timing-equaliser")


def _hash(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
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
