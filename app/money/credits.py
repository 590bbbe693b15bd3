"""Origination credits (SPEC 9.2, seed 001 lead credit): what the partner that brought a lead in earns.

A fixed amount when the lead is approved and/or a percentage of its value when it is won, from the global
default in IntakeSettings until commission plans exist. Credits go pending_approval → approved | rejected
(→ paid by a payout batch, later). A lead flagged as a duplicate of another partner's lead earns nothing:
the first originator keeps the credit.
"""

from decimal import Decimal

import sqlalchemy as sa

from app.audit import trail as audit
from app.comms.notifications import notify, path_for
from app.errors import Refused
from app.extensions import db
from app.leads import scoring
from app.models import Lead, OriginationCredit
from app.models.base import utcnow
from app.money.fees import to_cents
from app.partners.members import active_users
from app.web.money import format_money

MAX_REASON = 1000


class CreditError(Refused):
    """A credit decision the credit's state does not allow."""


def won_credit(lead_value: Decimal | None, percent: Decimal) -> Decimal:
    """The percentage credit of a won lead: percent of its value, to the cent (half up)."""
    return to_cents((lead_value or Decimal("0")) * percent / 100)


def _earns(lead: Lead) -> bool:
    if lead.originated_by is None:
        return False
    first = lead.duplicate_of
    return first is None or first.originated_by in (None, lead.originated_by)


def _open(lead: Lead, kind: str, amount: Decimal, basis: str, actor) -> OriginationCredit | None:
    """Create (or reopen a rejected) credit of `kind` for the lead, pending approval."""
    if amount <= 0 or not _earns(lead):
        return None
    credit = db.session.scalar(
        sa.select(OriginationCredit).where(OriginationCredit.lead_id == lead.id, OriginationCredit.kind == kind)
    )
    if credit is not None and credit.status != "rejected":
        return credit
    if credit is None:
        credit = OriginationCredit(lead_id=lead.id, partner_id=lead.originated_by, kind=kind)
        db.session.add(credit)
    credit.amount, credit.basis, credit.status = amount, basis, "pending_approval"
    credit.decided_by = credit.decided_at = credit.reason = None
    db.session.flush()
    audit.record(actor, "credit.opened", credit, after={"amount": str(amount), "kind": kind, "basis": basis})
    return credit


def on_approved(lead: Lead, actor) -> OriginationCredit | None:
    amount = to_cents(scoring.settings().credit_on_approval)
    return _open(lead, "approval", amount, "Fixed credit on approval", actor)


def on_won(lead: Lead, actor) -> OriginationCredit | None:
    percent = scoring.settings().credit_percent_on_won
    return _open(
        lead, "won", won_credit(lead.lead_value, percent), f"{percent.normalize()}% of the value when won", actor
    )


def follow_value(lead: Lead, actor) -> None:
    """A won lead's value changed: its percentage credit, while still pending, follows it."""
    credit = db.session.scalar(
        sa.select(OriginationCredit).where(
            OriginationCredit.lead_id == lead.id,
            OriginationCredit.kind == "won",
            OriginationCredit.status == "pending_approval",
        )
    )
    if credit is None:
        on_won(lead, actor)
        return
    amount = won_credit(lead.lead_value, scoring.settings().credit_percent_on_won)
    if amount != credit.amount:
        audit.record(
            actor, "credit.amount_changed", credit, before={"amount": str(credit.amount)}, after={"amount": str(amount)}
        )
        credit.amount = amount


def void_pending(lead: Lead, actor, reason: str, kind: str | None = None) -> int:
    """Reject the lead's credits still pending approval (the lead was rejected, marked bad, or left Won)."""
    stmt = sa.update(OriginationCredit).where(
        OriginationCredit.lead_id == lead.id, OriginationCredit.status == "pending_approval"
    )
    if kind:
        stmt = stmt.where(OriginationCredit.kind == kind)
    now = utcnow()
    count = db.session.execute(
        stmt.values(status="rejected", reason=reason, decided_at=now, updated_at=now).execution_options(
            synchronize_session=False
        )
    ).rowcount
    if count:
        audit.record(actor, "credit.voided", lead, after={"count": count, "reason": reason})
    return count


def decide(credit: OriginationCredit, actor, approve: bool, reason: str = "") -> OriginationCredit:
    """An admin approves or rejects a pending credit; the partner is told. Two admins at once: one wins."""
    if not getattr(actor, "is_admin", False):
        raise CreditError("Only an admin can decide credits.")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise CreditError("Say why the credit is rejected.", "reason")
    if len(reason) > MAX_REASON:
        raise CreditError(f"Keep the reason under {MAX_REASON} characters.", "reason")
    status, now = ("approved" if approve else "rejected"), utcnow()
    done = db.session.execute(
        sa.update(OriginationCredit)
        .where(OriginationCredit.id == credit.id, OriginationCredit.status == "pending_approval")
        .values(status=status, decided_by=actor.id, decided_at=now, reason=reason or None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(credit)
    if not done:
        raise CreditError(f"This credit is already {credit.status.replace('_', ' ')}.")
    audit.record(actor, f"credit.{status}", credit, after={"status": status, "amount": str(credit.amount)})
    notify(
        active_users(credit.partner),
        "credit_decided",
        reference=("lead", credit.lead_id),
        link=path_for("cp.credits"),
        outcome=status,
        amount=format_money(credit.amount),
        title=credit.lead.title,
    )
    db.session.flush()
    return credit
