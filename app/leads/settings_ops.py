"""Changing the intake settings (SPEC 9.2): the quality score's three weights and the default origination credit.

New weights score new leads only: a stored score keeps the breakdown it was computed with.
"""

from decimal import Decimal

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.leads import scoring
from app.models import IntakeSettings

WEIGHT_FIELDS = ("weight_required", "weight_additional", "weight_qualification")
MAX_CREDIT = Decimal("1000000.00")


class SettingsInvalid(Refused):
    """Settings that break a rule; `errors` maps each field to its message (shown beside it, 422)."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


def current() -> IntakeSettings:
    """The settings row, or (before anyone saved it) the defaults, unsaved: reading the page writes nothing."""
    row = db.session.get(IntakeSettings, 1)
    if row is not None:
        return row
    return IntakeSettings(
        id=1,
        weight_required=30,
        weight_additional=40,
        weight_qualification=30,
        credit_on_approval=Decimal("0.00"),
        credit_percent_on_won=Decimal("0.00"),
    )


def _snapshot(row) -> dict:
    return {
        **{name: getattr(row, name) for name in WEIGHT_FIELDS},
        "credit_on_approval": str(row.credit_on_approval),
        "credit_percent_on_won": str(row.credit_percent_on_won),
    }


def update(actor, *, weights: dict[str, int], credit_on_approval: Decimal, credit_percent_on_won: Decimal):
    """Save the weights (integers 0–100 totalling 100) and the default credit (an amount ≥ 0, a percent 0–100)."""
    if not getattr(actor, "is_admin", False):
        raise Refused("Only an admin can change the intake settings.")
    errors = {}
    for name in WEIGHT_FIELDS:
        value = weights.get(name)
        if not isinstance(value, int) or not 0 <= value <= 100:
            errors[name] = "Enter a whole number from 0 to 100."
    if not errors and sum(weights[name] for name in WEIGHT_FIELDS) != 100:
        total = sum(weights[name] for name in WEIGHT_FIELDS)
        errors = {name: f"The three weights must total 100 (now {total})." for name in WEIGHT_FIELDS}
    if credit_on_approval is None or not Decimal("0") <= credit_on_approval <= MAX_CREDIT:
        errors["credit_on_approval"] = "Enter an amount from 0 to 1,000,000."
    if credit_percent_on_won is None or not Decimal("0") <= credit_percent_on_won <= Decimal("100"):
        errors["credit_percent_on_won"] = "Enter a percentage from 0 to 100."
    if errors:
        raise SettingsInvalid(errors)
    row = scoring.settings()
    before = _snapshot(row)
    for name in WEIGHT_FIELDS:
        setattr(row, name, weights[name])
    row.credit_on_approval = credit_on_approval.quantize(Decimal("0.01"))
    row.credit_percent_on_won = credit_percent_on_won.quantize(Decimal("0.01"))
    row.updated_by = actor.id
    after = _snapshot(row)
    if after != before:
        audit.record(actor, "intake_settings.changed", ("intake_settings", row.id), before=before, after=after)
    db.session.flush()
    return row
