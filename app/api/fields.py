"""Fields every API schema shares.

`Money`: an amount as a decimal string ("1250.00": exact, unlike a JSON number), with two places in answers, read
from such a string into a Decimal; the operations then apply the money rules (app.web.money.parse_money).
`Timestamp`: the database keeps naive UTC datetimes; the document says `date-time`, which is RFC 3339 and needs an
offset. So a timestamp is answered with its offset (+00:00), and one sent in is read with any offset (or none,
taken as UTC) and handed to the query as naive UTC, so it compares with the columns the same way everywhere.
`BoundedInt`: an integer a database column can hold (PostgreSQL's integer), so a huge number sent in is a 422,
not a 500 from the driver."""

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

import marshmallow as ma

INT_MAX = 2**31 - 1
CENT = Decimal("0.01")
MONEY_PATTERN = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,2})?$")


class Money(ma.fields.String):
    """Documented as a string with MONEY_PATTERN; answered with two places; read into a Decimal. Only the format is
    checked here: whether the amount is allowed (negative, too large) is the operation's rule."""

    def __init__(self, **kwargs):
        metadata = {"pattern": MONEY_PATTERN.pattern, "example": "1250.00", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not MONEY_PATTERN.fullmatch(text):
            raise ma.ValidationError('An amount like "1250.00": digits, then at most two decimals.')
        return Decimal(text)


class Timestamp(ma.fields.DateTime):
    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> dt.datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError as exc:  # 9999-12-31T23:59:59-14:00 is past the last datetime Python has
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from exc


def BoundedInt(*, minimum: int = 0, maximum: int = INT_MAX, **kwargs) -> ma.fields.Integer:  # noqa: N802 (a field)
    """An Integer field within [minimum, maximum] (documented as such in the OpenAPI document)."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(minimum, maximum), **kwargs)
