"""Staff accounts: rules that only show with two writers at once."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session

from api.staff import service as staff
from api.staff.errors import StaffEmailTaken


@pytest.mark.postgres_only
def test_two_accounts_created_at_once_for_one_address_give_one_account_and_a_clear_error(engine) -> None:
    outcome: dict[str, object] = {}

    def second() -> None:
        with Session(engine) as own:
            try:
                staff.create_staff(own, email="race@syndicate.test", name="Second", password="a-long-password-2",
                                   roles=["editor"])
                own.commit()
                outcome["result"] = "created"
            except StaffEmailTaken as exc:
                outcome["result"] = exc

    with Session(engine) as first:
        staff.create_staff(first, email="race@syndicate.test", name="First", password="a-long-password-1", roles=["editor"])
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive(), "the second creation should wait on the first one's uncommitted row"
        first.commit()
    thread.join()
    assert isinstance(outcome["result"], StaffEmailTaken)
