"""One lead's figures: the fact row the rollups fold, and what each lead contributes to which rollup row.

A lead contributes a fixed set of figures (`contributions`) to a daily row (day, category) and a monthly
partner row (month, partner), computed from one "fact" row: the lead joined to its commission transaction
and fee-settlement line (the same columns app.reporting.reports reads).
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import CommissionTransaction, CpPayment, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.models.rollups import ALL_TIME, DAY, MONTH, NO_KEY, WEEK
from app.statements import per_shape

CT, ITEM, SETTLEMENT = CommissionTransaction, PlatformFeeSettlementItem, PlatformFeeSettlement
LIVE = ("pending", "due", "paid")
OPEN = ("new", "contacted", "qualified", "proposal", "negotiation")


@per_shape(maxsize=1)
def facts_select() -> sa.Select:
    """One row per lead with every column its figures depend on (built once: a Select is immutable)."""
    return (
        sa.select(
            Lead.id.label("lead_id"),
            Lead.category_id,
            Lead.allocated_to,
            Lead.allocation_status,
            Lead.kanban_stage.label("stage"),
            Lead.created_at,
            Lead.stage_changed_at,
            Lead.lead_value,
            CT.cp_id.label("tx_cp_id"),
            CT.status.label("tx_status"),
            CT.won_at,
            CT.gross_commission,
            CT.platform_fee,
            CT.net_commission,
            CT.settlement_requested_at,
            CT.client_paid_cp_directly.label("paid_directly"),
            sa.exists()
            .where(CpPayment.commission_tx_id == CT.id, CpPayment.status == "completed")
            .label("cp_paid_fee"),
            ITEM.id.label("item_id"),
            ITEM.amount.label("item_amount"),
            SETTLEMENT.settled_at.label("fee_settled_at"),
        )
        .select_from(Lead)
        .outerjoin(CT, CT.lead_id == Lead.id)
        .outerjoin(ITEM, ITEM.transaction_id == CT.id)
        .outerjoin(SETTLEMENT, SETTLEMENT.id == ITEM.settlement_id)
    )


def cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value()) if value is not None else 0


def _day(value) -> date:
    return value.date() if hasattr(value, "date") else value


def contributions(f) -> list[tuple[str, tuple, dict]]:
    """[(table, key, {measure: value})] this lead adds to the rollups; the rules mirror app.reporting.reports."""
    live = f.tx_status in LIVE
    report_day = _day(f.won_at if f.tx_status is not None else f.created_at)
    cp = (f.tx_cp_id if f.tx_status is not None and f.tx_status != "void" else None) or f.allocated_to or NO_KEY
    value = cents(f.lead_value)
    net = cents(f.net_commission) if live else 0
    fee_settled = live and f.item_id is not None
    by_report = {
        "rows": 1,
        "lead_value": value,
        "active_leads": int(f.stage in OPEN),
        "won_leads": int(f.stage == "won"),
        "lost_leads": int(f.stage == "lost"),
        "won_value": value if f.stage == "won" else 0,
        "transactions": int(live),
        "gross_commission": cents(f.gross_commission) if live else 0,
        "platform_fee": cents(f.platform_fee) if live else 0,
        "net_commission": net,
        "net_pending": net if f.tx_status == "pending" else 0,
        "net_due": net if f.tx_status == "due" else 0,
        "net_paid": net if f.tx_status == "paid" else 0,
        "due_count": int(f.tx_status == "due"),
        "requested_count": int(f.tx_status == "due" and f.settlement_requested_at is not None),
        "fee_settled": cents(f.platform_fee) if fee_settled else 0,
        "fee_settled_count": int(fee_settled),
        "fee_ready": int(f.tx_status == "paid" and f.item_id is None and (not f.paid_directly or f.cp_paid_fee)),
        "alloc_pending": int(f.allocation_status == "pending"),
        "alloc_allocated": int(f.allocation_status == "allocated"),
        f"stage_{f.stage}": 1,
        f"stage_{f.stage}_value": value,
    }
    dated = [(report_day, by_report), (_day(f.created_at), {"created_leads": 1})]
    if f.stage in ("won", "lost") and f.stage_changed_at is not None:
        dated.append((_day(f.stage_changed_at), {f"closed_{f.stage}": 1}))
    if f.item_id is not None and f.fee_settled_at is not None:
        dated.append((_day(f.fee_settled_at), {"fee_settled_on": cents(f.item_amount), "fee_settled_on_count": 1}))
    category = f.category_id or NO_KEY
    out = []
    for day, measures in dated:
        out.append(("daily", (DAY, day, category), measures))
        out.append(("daily", (WEEK, day - timedelta(days=day.weekday()), category), measures))
        out.append(("daily", (MONTH, day.replace(day=1), category), measures))
        out.append(("partner", (cp, day.replace(day=1)), measures))
        out.append(("partner", (cp, ALL_TIME), measures))
    return out


def fold(facts, sign: int = 1, into=None) -> dict:
    """Add (or subtract) the contributions of these fact rows: {(table, key): {measure: total}}."""
    into = into if into is not None else defaultdict(lambda: defaultdict(int))
    for f in facts:
        for table, key, measures in contributions(f):
            bucket = into[(table, key)]
            for name, amount in measures.items():
                if amount:
                    bucket[name] += sign * amount
    return into


def facts_for(session: Session, lead_ids) -> dict:
    ids = list(lead_ids)
    found = {}
    for start in range(0, len(ids), 500):
        rows = session.connection().execute(facts_select().where(Lead.id.in_(ids[start : start + 500])))
        found.update({row.lead_id: row for row in rows})
    return found
