"""`serve --demo` loads its data on every start: a second run must not duplicate anything."""

from __future__ import annotations

from sqlalchemy import func, select

from api.core.db import metadata
from api.demo.loader import DEMO_PASSWORD, load_demo


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables}


def test_loading_the_demo_twice_leaves_the_same_rows(engine, settings) -> None:
    first = load_demo(engine, settings)
    after_first = _counts(engine)
    second = load_demo(engine, settings)
    after_second = _counts(engine)
    assert after_second == after_first
    assert after_first["staff_user"] == 4 and after_first["article"] >= 3 and after_first["partner"] == 1
    assert after_first["licence"] == 1 and after_first["api_key"] == 1
    # The same accounts and the same API key are printed each time: a script written against the
    # first run keeps working.
    assert first == second
    assert any(f"password {DEMO_PASSWORD}" in line for line in first)


def test_the_demo_key_works_and_a_revoked_one_is_replaced(engine, settings, client) -> None:
    from sqlmodel import Session

    from api.audit.service import Actor
    from api.partners import keys

    lines = load_demo(engine, settings)
    key = next(line for line in lines if "X-API-Key" in line).split("X-API-Key: ")[1]
    assert client.get("/v1/partners/me", headers={"X-API-Key": key}).status_code == 200
    with Session(engine) as session:
        stored = keys.find_key(session, key)
        assert stored is not None
        keys.revoke_key(session, partner_id=stored.partner_id, key_id=stored.id, actor=Actor("staff", "test"), allow_last=True)
        session.commit()
    again = next(line for line in load_demo(engine, settings) if "X-API-Key" in line).split("X-API-Key: ")[1]
    assert again != key
    assert client.get("/v1/partners/me", headers={"X-API-Key": again}).status_code == 200
    assert client.get("/v1/partners/me", headers={"X-API-Key": key}).status_code == 401


def test_the_banner_formats_money(engine, settings) -> None:
    lines = load_demo(engine, settings)
    queued = next(line for line in lines if "waiting in the staff queue" in line)
    assert "minor units" not in queued and queued.rstrip().endswith("GBP)")


def test_the_banner_keeps_naming_the_demo_licence_after_the_queued_request_is_approved(engine, settings) -> None:
    from sqlmodel import Session

    from api.audit.service import Actor
    from api.licensing import service as licensing

    lines = load_demo(engine, settings)
    demo_licence = next(line for line in lines if line.startswith("licence lic_"))
    queued_id = next(line for line in lines if "waiting in the staff queue" in line).split()[2]
    with Session(engine) as session:
        licensing.approve(session, queued_id, actor=Actor("staff", "test"), amount=5000)
        session.commit()
    again = load_demo(engine, settings)
    assert demo_licence in again and "(active, catalogue)" in demo_licence
    assert not any("awaiting_payment" in line for line in again)
