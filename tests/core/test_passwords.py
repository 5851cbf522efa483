"""Argon2's cost: production strength unless the settings name another, which production refuses to lower."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import ValidationError

from api.core import passwords
from api.core.config import Settings
from tests.conftest import CHEAP_PASSWORD_HASHING

PRODUCTION = {"environment": "production", "secret_key": "x" * 40, "public_base_url": "https://licensing.example.com"}


def test_the_default_cost_is_rfc_9106s_recommendation(monkeypatch) -> None:
    for name in CHEAP_PASSWORD_HASHING:
        monkeypatch.delenv(f"SYNDICATE_{name.upper()}", raising=False)
    settings = Settings(**PRODUCTION)
    assert (settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism) \
        == (RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism) == (3, 65536, 4)


def test_a_fresh_process_hashes_at_production_strength() -> None:
    """What `syndicate serve` gets with no password_hash_* settings (a fresh interpreter: the test run's is cheap)."""
    script = ("from api.app import create_app; from api.core.config import Settings; from api.core import passwords; "
              "create_app(Settings(database_url='sqlite://'), run_worker=False); print(passwords.hash_password('x'))")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SYNDICATE_PASSWORD_HASH_")}
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert printed.stdout.strip().startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize("weaker", [{"password_hash_time_cost": 2}, {"password_hash_memory_kib": 32768},
                                    {"password_hash_parallelism": 1}])
def test_production_refuses_a_cheaper_cost(weaker) -> None:
    with pytest.raises(ValidationError, match="may not be lowered in production"):
        Settings(**PRODUCTION, **weaker)
    assert Settings(**PRODUCTION, password_hash_time_cost=4).password_hash_time_cost == 4


def test_the_tests_hash_cheaply_and_a_stronger_hash_still_verifies(app) -> None:
    assert passwords.current_parameters() == {"time_cost": 1, "memory_kib": 8, "parallelism": 1}
    cheap = passwords.hash_password("a passphrase")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$") and passwords.verify_password(cheap, "a passphrase")
    strong = passwords._hasher_with(**{"time_cost": 3, "memory_kib": 65536, "parallelism": 4}).hash("a passphrase")
    assert passwords.verify_password(strong, "a passphrase") and passwords.needs_rehash(strong)
    assert not passwords.verify_password(None, "a passphrase")


def test_settings_that_name_no_cost_leave_the_processs_cost_alone(app) -> None:
    passwords.configure(Settings(database_url="sqlite://"))
    assert passwords.current_parameters()["time_cost"] == 1
