"""Money as people read and type it: the one formatter and the one parser.

Both use the configured CURRENCY_SYMBOL (config.py); nothing in the app hard-codes a symbol.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app

CENT = Decimal("0.01")
MAX_DIGITS = 40  # longer input is refused before Decimal sees it
AMOUNT_PATTERN = re.compile(r"-?(\d+(\.\d*)?|\.\d+)", re.ASCII)
NOT_AN_AMOUNT = "Enter an amount such as 1250.00."


class MoneyError(ValueError):
    """An amount a person typed that is not one; the message says what to type instead."""


def currency_symbol() -> str:
    return current_app.config["CURRENCY_SYMBOL"]


def format_money(value, symbol: str | None = None) -> str:
    """`1234.5` → "$1,234.50" (the configured symbol unless `symbol`); None → "—"."""
    if value is None:
        return "—"
    symbol = currency_symbol() if symbol is None else symbol
    amount = value if isinstance(value, Decimal) else Decimal(value)
    return f"-{symbol}{-amount:,.2f}" if amount < 0 else f"{symbol}{amount:,.2f}"


def parse_money(raw, *, maximum: Decimal | None = None, symbol: str | None = None) -> Decimal | None:
    """A money amount typed by a person: blank → None; else a finite Decimal, 0 ≤ x ≤ maximum, ≤ 2 decimals.

    Surrounding spaces, thousands separators and a leading currency symbol are dropped. Raises MoneyError.
    """
    if raw is None:
        return None
    if isinstance(raw, Decimal):
        amount = raw
    else:
        symbol = currency_symbol() if symbol is None else symbol
        text = str(raw).strip().replace(",", "").lstrip(symbol)
        if not text:
            return None
        if len(text) > MAX_DIGITS or not AMOUNT_PATTERN.fullmatch(text):
            raise MoneyError(NOT_AN_AMOUNT)
        amount = Decimal(text)
    _check(amount, maximum)
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _check(amount: Decimal, maximum: Decimal | None) -> None:
    if not amount.is_finite():
        raise MoneyError(NOT_AN_AMOUNT)
    if amount < 0:
        raise MoneyError("The amount cannot be negative.")
    if maximum is not None and amount > maximum:
        raise MoneyError(f"The amount cannot be more than {maximum:,}.")
    if amount.as_tuple().exponent < -2:
        raise MoneyError("Use at most two decimals (cents).")
