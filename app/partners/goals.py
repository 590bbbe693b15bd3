"""A partner's commission goal (issue #20 item 4): set, change or remove it; audited; flush only, the view commits."""

from decimal import Decimal

import sqlalchemy as sa

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.models import ChannelPartner
from app.models.goals import GOAL_PERIODS, PartnerGoal
from app.web import money

MAX_GOAL = Decimal("999999999999.99")


class GoalRefused(Refused):
    """A goal that cannot be saved; `field` names the form field the message belongs beside."""

    status = 422


def goal_of(partner) -> PartnerGoal | None:
    """The partner's goal, or None when it has not set one."""
    return db.session.scalar(sa.select(PartnerGoal).where(PartnerGoal.partner_id == partner.id))


def parse_amount(raw) -> Decimal:
    """A goal amount typed by a person: required, more than zero, to the cent (app.web.money rules)."""
    try:
        amount = money.parse_money(raw, maximum=MAX_GOAL)
    except money.MoneyError as exc:
        raise GoalRefused(str(exc), "amount") from None
    if amount is None or amount <= 0:
        raise GoalRefused("Enter an amount above zero.", "amount")
    return amount


def set_goal(partner, raw_amount, period: str, *, actor) -> PartnerGoal:
    """Set (or change) the partner's goal: gross commission to earn per `period` (month, quarter or year).

    The partner's row is locked first, so two members saving at once change one goal instead of racing to
    insert two (partner_id is unique as well). Audited as partner.goal_set with the old and new values."""
    if period not in GOAL_PERIODS:
        raise GoalRefused("Choose a month, a quarter or a year.", "period")
    amount = parse_amount(raw_amount)
    _lock(partner)
    goal = goal_of(partner)
    before = audit.snapshot(goal, "amount", "period") if goal else None
    if goal is None:
        goal = PartnerGoal(partner_id=partner.id, amount=amount, period=period)
        db.session.add(goal)
    elif (goal.amount, goal.period) == (amount, period):
        return goal
    goal.amount, goal.period, goal.set_by = amount, period, getattr(actor, "id", None)
    db.session.flush()
    audit.record(actor, "partner.goal_set", partner, before=before, after=audit.snapshot(goal, "amount", "period"))
    db.session.flush()
    return goal


def remove_goal(partner, *, actor) -> bool:
    """Remove the partner's goal; False when it had none (nothing is written)."""
    _lock(partner)
    goal = goal_of(partner)
    if goal is None:
        return False
    audit.record(actor, "partner.goal_removed", partner, before=audit.snapshot(goal, "amount", "period"))
    db.session.delete(goal)
    db.session.flush()
    return True


def _lock(partner) -> None:
    db.session.execute(sa.select(ChannelPartner.id).where(ChannelPartner.id == partner.id).with_for_update())
