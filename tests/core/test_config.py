from __future__ import annotations

from api.core.config import Settings


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings(secret_key="super-secret-value-123", stripe_api_key="sk_test_hidden", database_url="sqlite://")
    text = repr(settings) + str(settings) + str(settings.model_dump())
    assert "super-secret-value-123" not in text
    assert "sk_test_hidden" not in text


DB_URL = "postgresql://syndicate:db-pa55word@db.internal:5432/syndicate?sslmode=require"
REDIS_URL = "redis://:redis-pa55word@cache.internal:6379/0"


def test_passwords_in_database_and_redis_urls_are_masked_but_the_urls_still_work() -> None:
    settings = Settings(database_url=DB_URL, redis_url=REDIS_URL)
    shown = repr(settings) + str(settings) + str(settings.model_dump()) + settings.model_dump_json()
    shown += repr(settings.database_url) + repr(settings.redis_url) + f"{settings!r}"
    assert "db-pa55word" not in shown and "redis-pa55word" not in shown
    assert "postgresql+psycopg://syndicate:***@db.internal:5432/syndicate" in repr(settings)
    assert "redis://:***@cache.internal:6379/0" in repr(settings)
    # The values themselves are the real URLs: engines and Redis clients get what was configured.
    assert settings.database_url == "postgresql+psycopg://syndicate:db-pa55word@db.internal:5432/syndicate?sslmode=require"
    assert str(settings.redis_url) == REDIS_URL and settings.redis_url.startswith("redis://")
    from sqlalchemy.engine import make_url

    assert make_url(settings.database_url).password == "db-pa55word"
    query_secret = Settings(database_url="postgresql://u@h/db?password=in-the-query")
    assert "in-the-query" not in repr(query_secret) and "password=***" in repr(query_secret)


def test_nothing_logs_the_raw_database_or_redis_url(caplog, capsys) -> None:
    import logging

    from typer.testing import CliRunner

    from api.cli import app

    caplog.set_level(logging.DEBUG)
    unreachable = "postgresql://syndicate:db-pa55word@127.0.0.1:1/syndicate"
    env = {"SYNDICATE_DATABASE_URL": unreachable, "SYNDICATE_REDIS_URL": REDIS_URL}
    from api.core.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "current"], env=env)
        result_check = CliRunner().invoke(app, ["staff", "create", "--email", "a@b.example", "--name", "A",
                                                "--role", "admin", "--password", "x" * 16], env=env)
    finally:
        get_settings.cache_clear()
    logging.getLogger("syndicate").info("settings: %s", Settings(database_url=unreachable, redis_url=REDIS_URL))
    captured = capsys.readouterr()
    everything = result.output + result_check.output + caplog.text + captured.out + captured.err
    assert result_check.exit_code == 2 and "127.0.0.1" in result_check.output
    assert "db-pa55word" not in everything and "redis-pa55word" not in everything


def test_database_url_is_normalised() -> None:
    assert Settings(database_url="postgres://u@h/db").database_url == "postgresql+psycopg://u@h/db"
    assert Settings().database_url.startswith("sqlite:///")


def test_settings_read_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SYNDICATE_BILLING_BACKEND", "stripe")
    monkeypatch.setenv("SYNDICATE_PUBLIC_BASE_URL", "https://licensing.example.com/")
    settings = Settings()
    assert settings.billing_backend == "stripe"
    assert settings.public_base_url == "https://licensing.example.com"


def test_production_refuses_the_development_secret() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="SYNDICATE_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="STRIPE"):
        Settings(environment="production", secret_key="x" * 40, billing_backend="stripe", public_base_url=HTTPS)
    assert Settings(environment="production", secret_key="x" * 40, public_base_url=HTTPS).environment == "production"


HTTPS = "https://licensing.example.com"


def test_production_refuses_an_http_public_url_unless_allowed_for_a_private_network() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="SYNDICATE_PUBLIC_BASE_URL must be an https://.*"
                                              "SYNDICATE_ALLOW_INSECURE_PUBLIC_URL"):
        Settings(environment="production", secret_key="x" * 40, public_base_url="http://licensing.example.com")
    allowed = Settings(environment="production", secret_key="x" * 40, public_base_url="http://10.0.0.5:8000",
                       allow_insecure_public_url=True)
    assert allowed.public_base_url == "http://10.0.0.5:8000"
    # Development keeps its http://127.0.0.1 default.
    assert Settings(environment="development").public_base_url.startswith("http://")


def test_api_rate_limits_are_checked_at_start_up() -> None:
    import pytest
    from pydantic import ValidationError

    for name in ("address_rate_limit", "api_key_rate_limit", "anonymous_rate_limit"):
        with pytest.raises(ValidationError, match="not a rate limit"):
            Settings(**{name: "lots"})
        assert getattr(Settings(**{name: ""}), name) == ""


def test_every_setting_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = []
    for name in Settings.model_fields:
        env = f"SYNDICATE_{name.upper()}"
        prefix, _, rest = name.partition("_")
        if env not in readme and not (f"`_{rest.upper()}`" in readme or f", `_{rest.upper()}`" in readme or f"`_{rest.upper()}" in readme):
            missing.append(env)
    assert missing == [], f"document these settings in README.md: {missing}"


def test_the_canonical_url_template_must_be_a_url_with_a_slug() -> None:
    import pytest
    from pydantic import ValidationError

    assert Settings(canonical_url_template="https://www.example.com/news/{slug}").canonical_url_template
    for bad in ("https://www.example.com/news/", "www.example.com/{slug}"):
        with pytest.raises(ValidationError, match="slug"):
            Settings(canonical_url_template=bad)
    with pytest.raises(ValidationError, match="login_rate_limit"):
        Settings(login_rate_limit="lots")


def test_a_retired_setting_stops_start_up_and_names_its_replacement(monkeypatch) -> None:
    import pytest
    from pydantic import ValidationError

    monkeypatch.setenv("SYNDICATE_STAFF_TOKEN_MINUTES", "60")
    with pytest.raises(ValidationError, match="SYNDICATE_STAFF_SESSION_IDLE_MINUTES"):
        Settings()
    monkeypatch.delenv("SYNDICATE_STAFF_TOKEN_MINUTES")
    assert Settings().staff_session_idle_minutes == 30


def test_the_apps_settings_are_the_workers_for_email_webhooks_and_billing(engine, settings) -> None:
    """One setting, in force while the app runs, reaches every outbox sender and the billing backend;
    the settings before are back after its shutdown (an app built for a test leaves nothing behind)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.core.config import configure_worker, worker_settings
    from api.delivery.webhook_send import WebhookSend
    from api.invoicing import provider
    from api.outbox.email import EmailDelivery

    own = settings.model_copy(update={"smtp_timeout_seconds": 7.5, "webhook_attempt_timeout_seconds": 3.25})
    previous = configure_worker(settings)
    try:
        with TestClient(create_app(own, run_worker=False)):
            assert worker_settings() is own
            assert EmailDelivery().timeout == 7.5 and WebhookSend().timeout == 3.25
            assert provider.backend().name == own.billing_backend
        assert worker_settings() is settings
    finally:
        configure_worker(previous)
