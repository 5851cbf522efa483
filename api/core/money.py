"""Money for people to read: integer minor units and an ISO 4217 code, shown in major units.

Minor units are Stripe's: currencies it charges without decimals (JPY, KRW, ...) have no minor
unit, so 1500 JPY is "1,500", not "15.00".
"""

from __future__ import annotations

ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})


def format_amount(amount: int, currency: str) -> str:
    """1234567 GBP -> '12,345.67'; 1500 JPY -> '1,500'."""
    if currency.upper() in ZERO_DECIMAL:
        return f"{amount:,}"
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    return f"{sign}{amount // 100:,}.{amount % 100:02d}"


def format_money(amount: int, currency: str) -> str:
    """The amount with its currency code: '12,345.67 GBP'."""
    return f"{format_amount(amount, currency)} {currency}"
