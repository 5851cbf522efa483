"""The audit log is append-only in the database: an UPDATE or DELETE of an entry is refused,
whether it comes from the ORM or from plain SQL, on a database built from the models or by the
migrations."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.audit import service as audit
from api.audit.models import AuditEntry
from api.core.db import make_engine
from api.core.migrations import upgrade
from tests.core.test_migrations import empty_database_url  # noqa: F401  (fixture)


def _entry(session: Session) -> AuditEntry:
    entry = audit.record(session, actor=audit.Actor("staff", "stf_x"), action="licence.revoked",
                         object_type="licence", object_id="lic_x", before={"state": "active"}, after={"state": "revoked"})
    session.commit()
    return entry


def _refused(session: Session, statement: str, **params) -> str:
    with pytest.raises(IntegrityError) as excinfo:
        session.exec(text(statement).bindparams(**params))
        session.flush()
    session.rollback()
    return str(excinfo.value.orig)


def test_entries_cannot_be_changed_or_removed(session) -> None:
    entry = _entry(session)
    assert "append-only" in _refused(session, "UPDATE audit_entry SET action = 'licence.active' WHERE id = :id", id=entry.id)
    assert "append-only" in _refused(session, "DELETE FROM audit_entry WHERE id = :id", id=entry.id)
    assert "append-only" in _refused(session, "DELETE FROM audit_entry")

    entry.after = {"state": "active"}
    session.add(entry)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.delete(entry)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()

    kept = session.get(AuditEntry, entry.id, populate_existing=True)
    assert (kept.action, kept.after) == ("licence.revoked", {"state": "revoked"})
    session.commit()


def test_appending_still_works(session) -> None:
    first, second = _entry(session), _entry(session)
    assert session.get(AuditEntry, first.id) is not None and session.get(AuditEntry, second.id) is not None
    session.commit()


def test_the_migrations_install_the_same_triggers(empty_database_url: str) -> None:  # noqa: F811
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session:
            entry = _entry(session)
            assert "append-only" in _refused(session, "UPDATE audit_entry SET actor_id = NULL WHERE id = :id", id=entry.id)
            assert "append-only" in _refused(session, "DELETE FROM audit_entry WHERE id = :id", id=entry.id)
            assert session.get(AuditEntry, entry.id) is not None
    finally:
        engine.dispose()
