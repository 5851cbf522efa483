from __future__ import annotations

import pytest
from sqlmodel import Session

from api.cli import app as cli
from api.partners import keys
from api.partners.models import Partner, PartnerStatus
from tests.conftest import cli_runner as runner



def test_create_prints_a_working_key_and_list_shows_the_partner(cli_env, engine) -> None:
    result = runner.invoke(cli, ["partners", "create", "--name", "Wire Desk", "--country", "fr", "--email",
                                 "compta@wire.example", "--currency", "eur"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    with Session(engine) as session:
        partner, _key = keys.authenticate_key(session, raw)
        assert (partner.name, partner.country, partner.currency, partner.status) == ("Wire Desk", "FR", "EUR", PartnerStatus.active)
        session.rollback()

    listed = runner.invoke(cli, ["partners", "list", "--status", "active"])
    assert listed.exit_code == 0 and "Wire Desk" in listed.output and "compta@wire.example" in listed.output
    assert "no partners" in runner.invoke(cli, ["partners", "list", "--status", "pending"]).output

    partner_id = listed.output.split()[0]
    suspended = runner.invoke(cli, ["partners", "suspend", partner_id, "--reason", "test"])
    assert suspended.exit_code == 0 and "suspended" in suspended.output


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--country", "XX", "ISO 3166-1"), ("--currency", "XYZ", "ISO 4217"), ("--email", "nope", "e-mail"),
])
def test_create_refuses_bad_input_and_writes_nothing(cli_env, engine, option, value, message) -> None:
    args = {"--name": "Bad", "--country": "GB", "--email": "a@b.example", "--currency": "GBP", option: value}
    result = runner.invoke(cli, ["partners", "create", *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 2 and message in result.output
    with Session(engine) as session:
        assert not session.exec(Partner.__table__.select()).first()


def test_every_partners_command_has_help() -> None:
    for command in ("create", "list", "verify", "suspend"):
        result = runner.invoke(cli, ["partners", command, "--help"])
        assert result.exit_code == 0 and len(result.output) > 100
