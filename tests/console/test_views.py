"""Money display and amount parsing (no database)."""

from __future__ import annotations

import pytest

from api.console.views import money, parse_amount
from api.console.errors import BadAmount


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (123456, "GBP", "1,234.56 GBP"), (5, "EUR", "0.05 EUR"), (0, "USD", "0.00 USD"), (-1999, "GBP", "-19.99 GBP"),
    (1500, "JPY", "1,500 JPY"), (1234567, "KWD", "1,234.567 KWD"),
])
def test_money_shows_major_units_with_currency(amount, currency, shown) -> None:
    assert money(amount, currency) == shown


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("1,234.56", "GBP", 123456), ("250", "GBP", 25000), (" 99.5 ", "EUR", 9950), ("", "GBP", None), ("1500", "JPY", 1500),
])
def test_parse_amount(text, currency, minor) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize("text", ["abc", "1.234", "-5", "1e"])
def test_parse_amount_refuses_what_is_not_an_amount(text) -> None:
    with pytest.raises(BadAmount):
        parse_amount(text, "GBP")
