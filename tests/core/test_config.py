from __future__ import annotations

from api.core.config import Settings


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings(secret_key="super-secret-value-123", stripe_api_key="sk_test_hidden", database_url="sqlite://")
    text = repr(settings) + str(settings) + str(settings.model_dump())
    assert "super-secret-value-123" not in text
    assert "sk_test_hidden" not in text


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
        Settings(environment="production", secret_key="x" * 40, billing_backend="stripe")
    assert Settings(environment="production", secret_key="x" * 40).environment == "production"


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
