"""The money invariants as one read-only check (SPEC 2.3, 2.7, 2.8 and 8: "totals always reconcile").

`differences()` returns one line per broken invariant ([] when the books are straight):

- each commission transaction: commission == platform fee + partner net, to the cent, neither part negative;
- a live (not void) transaction whose lead carries a commission shows the same fee on the lead;
- platform fees, per partner and overall: generated == settled + outstanding, where generated is the sum of
  the live transactions' fees, settled the sum of the fee-settlement lines and outstanding the live fees no
  line settled (three separately stored figures, so a changed line or fee shows);
- each fee-settlement line settles exactly its transaction's fee; each settlement's amount and lead count
  equal its lines' (that only paid transactions' fees are settled is a workflow rule the services keep,
  app.money.fee_queries.collectable, not a money figure: it is not checked here);
- a partner's fee payment (SPEC 2.8): at most one completed per transaction, for exactly its fee, and only on
  a transaction whose client paid the partner directly; no negative payment.

There is no wallet ledger yet (SPEC 9.3 comes later), so there is no ledger balance to check; origination
credits have no running total either (their non-negative amount is a database constraint). Every check is a
SQL aggregate or an anti-join returning only the offending rows, so it runs on a million leads.
"""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import CommissionTransaction, CpPayment, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem

CT = CommissionTransaction
ITEM = PlatformFeeSettlementItem
SAMPLE = 20  # offending ids named per check; the count says how many there are
CENT = Decimal("0.01")


def differences(session: Session | None = None) -> list[str]:
    """Every money invariant the rows break, as readable lines; reads only."""
    session = session or db.session
    problems: list[str] = []
    for check in (_commission_parts, _lead_mirrors, _fee_totals, _settlement_lines, _settlements, _fee_payments):
        problems.extend(check(session))
    return problems


def _cents(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _offenders(session: Session, what: str, stmt: sa.Select) -> list[str]:
    """One line naming up to SAMPLE offending ids of `stmt` (which selects ids), or none."""
    ids = [str(i) for i in session.scalars(stmt.limit(SAMPLE + 1))]
    if not ids:
        return []
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    shown = ", ".join(ids[:SAMPLE]) + (" ..." if total > SAMPLE else "")
    return [f"{what}: {total} row(s): {shown}"]


def _commission_parts(session: Session) -> list[str]:
    # Rounded: SQLite keeps these as floats (see the amounts_reconcile constraint on the model).
    split = sa.func.round(CT.gross_commission - CT.platform_fee - CT.net_commission, 2) != 0
    stmt = sa.select(CT.id).where(sa.or_(split, CT.platform_fee < 0, CT.net_commission < 0)).order_by(CT.id)
    return _offenders(session, "commission != platform fee + net (or a negative part)", stmt)


def _lead_mirrors(session: Session) -> list[str]:
    stmt = (
        sa.select(CT.id)
        .join(Lead, Lead.id == CT.lead_id)
        .where(CT.status != "void", Lead.commission_amount.is_not(None))
        .where(
            sa.or_(
                Lead.platform_fee_amount.is_(None), sa.func.round(Lead.platform_fee_amount - CT.platform_fee, 2) != 0
            )
        )
        .order_by(CT.id)
    )
    return _offenders(session, "lead's platform fee differs from its transaction's", stmt)


def _fee_totals(session: Session) -> list[str]:
    """generated == settled + outstanding for every partner with fees, and for the platform."""
    live = CT.status != "void"
    generated = dict(
        session.execute(sa.select(CT.cp_id, sa.func.sum(CT.platform_fee)).where(live).group_by(CT.cp_id)).all()
    )
    settled = dict(
        session.execute(
            sa.select(CT.cp_id, sa.func.sum(ITEM.amount)).join(ITEM, ITEM.transaction_id == CT.id).group_by(CT.cp_id)
        ).all()
    )
    unsettled = ~sa.exists().where(ITEM.transaction_id == CT.id)
    outstanding = dict(
        session.execute(
            sa.select(CT.cp_id, sa.func.sum(CT.platform_fee)).where(live, unsettled).group_by(CT.cp_id)
        ).all()
    )
    problems = []
    totals = [Decimal("0.00")] * 3
    for cp_id in sorted(set(generated) | set(settled) | set(outstanding), key=str):
        figures = [_cents(generated.get(cp_id)), _cents(settled.get(cp_id)), _cents(outstanding.get(cp_id))]
        totals = [t + f for t, f in zip(totals, figures, strict=True)]
        if figures[0] != figures[1] + figures[2]:
            problems.append(_fee_line(f"partner {cp_id}", *figures))
    if totals[0] != totals[1] + totals[2]:
        problems.append(_fee_line("platform", *totals))
    return problems


def _fee_line(who: str, generated: Decimal, settled: Decimal, outstanding: Decimal) -> str:
    return (
        f"{who}: fees generated {generated} != settled {settled} + outstanding {outstanding}"
        f" (off by {generated - settled - outstanding})"
    )


def _settlement_lines(session: Session) -> list[str]:
    stmt = (
        sa.select(ITEM.id)
        .join(CT, CT.id == ITEM.transaction_id)
        .where(sa.func.round(ITEM.amount - CT.platform_fee, 2) != 0)
        .order_by(ITEM.id)
    )
    return _offenders(session, "fee-settlement line not equal to its transaction's fee", stmt)


def _settlements(session: Session) -> list[str]:
    lines = (
        sa.select(ITEM.settlement_id, sa.func.sum(ITEM.amount).label("amount"), sa.func.count().label("count"))
        .group_by(ITEM.settlement_id)
        .subquery()
    )
    S = PlatformFeeSettlement
    stmt = (
        sa.select(S.id)
        .outerjoin(lines, lines.c.settlement_id == S.id)
        .where(
            sa.or_(
                sa.func.round(S.amount - sa.func.coalesce(lines.c.amount, 0), 2) != 0,
                S.lead_count != sa.func.coalesce(lines.c.count, 0),
            )
        )
        .order_by(S.id)
    )
    return _offenders(session, "fee settlement whose amount or lead count differs from its lines", stmt)


def _fee_payments(session: Session) -> list[str]:
    P = CpPayment
    completed = P.status == "completed"
    twice = sa.select(P.commission_tx_id).where(completed).group_by(P.commission_tx_id).having(sa.func.count() > 1)
    wrong = (
        sa.select(P.id)
        .join(CT, CT.id == P.commission_tx_id)
        .where(completed, sa.or_(sa.func.round(P.amount - CT.platform_fee, 2) != 0, ~CT.client_paid_cp_directly))
        .order_by(P.id)
    )
    negative = sa.select(P.id).where(P.amount < 0).order_by(P.id)
    return [
        *_offenders(
            session, "transaction with more than one completed fee payment", twice.order_by(P.commission_tx_id)
        ),
        *_offenders(session, "completed fee payment not equal to the fee of a directly paid transaction", wrong),
        *_offenders(session, "negative fee payment", negative),
    ]
