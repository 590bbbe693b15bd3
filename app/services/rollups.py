"""Maintained aggregates of the report rows: kept in step by ONE session hook, rebuilt and reconciled from the rows.

Each lead contributes a fixed set of figures (`contributions`) to a daily row (day, category) and a
monthly partner row (month, partner), computed from one "fact" row: the lead joined to its commission
transaction and fee-settlement line (the same columns app.services.reports reads). Whenever a flush
touches a lead, a transaction or a settlement line, the hook reads the facts of the affected leads
before and after the flush and applies the difference with upserts, inside the same database
transaction, so the rollups commit or roll back with the rows. Bulk DELETE/UPDATE statements on
those tables are caught too (their leads' facts are read before the statement runs).

`rebuild()` refolds every row (used after the bulk COPY of app/scale.py and by `flask rebuild-rollups`);
`reconcile()` lists every rollup row that differs from a fresh fold of the rows (empty = in step).
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import CommissionTransaction, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.models.base import utcnow
from app.models.rollups import ALL_TIME, MEASURES, MONEY_MEASURES, NO_KEY, DailyRollup, PartnerMonthlyRollup

CT, ITEM, SETTLEMENT = CommissionTransaction, PlatformFeeSettlementItem, PlatformFeeSettlement
LIVE = ("pending", "due", "paid")
OPEN = ("new", "contacted", "qualified", "proposal", "negotiation")
LEAD_FIELDS = ("kanban_stage", "lead_value", "category_id", "allocated_to", "allocation_status", "created_at")
LEAD_FIELDS += ("stage_changed_at",)
TX_FIELDS = ("status", "gross_commission", "platform_fee", "net_commission", "won_at", "cp_id", "lead_id")
TX_FIELDS += ("settlement_requested_at",)
TABLES = {"daily": DailyRollup, "partner": PartnerMonthlyRollup}
KEYS = {"daily": ("day", "category_key"), "partner": ("cp_key", "month")}
PENDING = "rollup_before"  # session.info: {lead_id: facts before the changes not yet applied}


# --- one lead's figures ---------------------------------------------------------------------------


def facts_select() -> sa.Select:
    """One row per lead with every column its figures depend on."""
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
    """[(table, key, {measure: value})] this lead adds to the rollups; the rules mirror app.services.reports."""
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
        out.append(("daily", (day, category), measures))
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


def _facts_for(session: Session, lead_ids) -> dict:
    ids = list(lead_ids)
    found = {}
    for start in range(0, len(ids), 500):
        rows = session.connection().execute(facts_select().where(Lead.id.in_(ids[start : start + 500])))
        found.update({row.lead_id: row for row in rows})
    return found


# --- writing ----------------------------------------------------------------------------------------


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table.__table__)


def apply(session: Session, deltas: dict) -> None:
    """Upsert the non-zero deltas: one multi-row INSERT ... ON CONFLICT per table, keys sorted so that
    concurrent transactions lock rollup rows in one order (no deadlock between two of them)."""
    for table_name, table in TABLES.items():
        changes = {
            key: {m: v for m, v in measures.items() if v}
            for (name, key), measures in deltas.items()
            if name == table_name and any(measures.values())
        }
        if not changes:
            continue
        names = sorted({m for measures in changes.values() for m in measures})
        rows = [
            {**dict(zip(KEYS[table_name], key, strict=True)), **{m: changes[key].get(m, 0) for m in names}}
            for key in sorted(changes, key=str)
        ]
        ins = _insert(session, table)
        stmt = ins.values(rows).on_conflict_do_update(
            index_elements=list(KEYS[table_name]),
            set_={m: getattr(table.__table__.c, m) + getattr(ins.excluded, m) for m in names},
        )
        session.connection().execute(stmt)


def rebuild(session: Session | None = None) -> int:
    """Recompute every rollup row from the rows (after a bulk load, or to repair); returns rows written."""
    session = session or db.session
    folded = fold(session.execute(facts_select().execution_options(stream_results=True, yield_per=5000)))
    for table in TABLES.values():
        session.execute(sa.delete(table))
    written = 0
    for table_name, table in TABLES.items():
        batch = []
        for (name, key), measures in folded.items():
            if name == table_name and any(measures.values()):
                batch.append({**dict(zip(KEYS[name], key, strict=True)), **{m: measures.get(m, 0) for m in MEASURES}})
        for start in range(0, len(batch), 5000):
            session.execute(sa.insert(table), batch[start : start + 5000])
        written += len(batch)
    session.flush()
    return written


def reconcile(session: Session | None = None) -> list[str]:
    """Every difference between the maintained rollups and a fresh fold of the rows ([] when they agree)."""
    session = session or db.session
    session.flush()
    expected = fold(session.execute(facts_select()))
    problems = []
    has_item = sa.exists().where(ITEM.transaction_id == CT.id)
    drift = sa.select(sa.func.count()).where(
        sa.or_(sa.and_(CT.fee_settled_at.is_(None), has_item), sa.and_(CT.fee_settled_at.is_not(None), ~has_item))
    )
    if session.scalar(drift):
        problems.append(
            f"commission_transactions.fee_settled_at disagrees with the settlement lines on {session.scalar(drift)} rows"
        )
    for table_name, table in TABLES.items():
        stored = {tuple(getattr(r, k) for k in KEYS[table_name]): r for r in session.scalars(sa.select(table))}
        keys = set(stored) | {key for (name, key) in expected if name == table_name}
        for key in keys:
            want = expected.get((table_name, key), {})
            have = stored.get(key)
            for m in MEASURES:
                got = getattr(have, m) if have is not None else 0
                if got != want.get(m, 0):
                    problems.append(f"{table_name} {key} {m}: rollup {got} != rows {want.get(m, 0)}")
    return problems


# --- the hook ---------------------------------------------------------------------------------------


def _changed(obj, fields) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[f].history.has_changes() for f in fields)


def _lead_ids(session: Session, objects, dirty: bool) -> set:
    ids = set()
    for obj in objects:
        if isinstance(obj, Lead) and (not dirty or _changed(obj, LEAD_FIELDS)):
            ids.add(obj.id)
        elif isinstance(obj, CT) and (not dirty or _changed(obj, TX_FIELDS)):
            ids.add(obj.lead_id or getattr(obj.lead, "id", None))
            if dirty:
                ids.update(v for v in sa.inspect(obj).attrs.lead_id.history.deleted if v)
        elif isinstance(obj, ITEM):
            tx = obj.transaction
            ids.add(obj.lead_id or (tx.lead_id if tx is not None else None))
            if obj.lead_id is None and tx is None and obj.transaction_id is not None:
                ids.add(session.connection().scalar(sa.select(CT.lead_id).where(CT.id == obj.transaction_id)))
        elif isinstance(obj, SETTLEMENT) and dirty and _changed(obj, ("settled_at",)):
            ids.update(session.connection().scalars(sa.select(ITEM.lead_id).where(ITEM.settlement_id == obj.id)))
    ids.discard(None)
    return ids


def _remember(session: Session, lead_ids) -> None:
    pending = session.info.setdefault(PENDING, {})
    new = [i for i in lead_ids if i not in pending]
    if new:
        found = _facts_for(session, new)
        for lead_id in new:
            pending[lead_id] = found.get(lead_id)


def _sync_fee_settled(session: Session) -> None:
    """Keep CommissionTransaction.fee_settled_at in step with the settlement lines added or removed in this flush."""
    for obj in list(session.new) + list(session.deleted):
        if not isinstance(obj, ITEM):
            continue
        tx = obj.transaction or (session.get(CT, obj.transaction_id) if obj.transaction_id else None)
        if tx is None or tx in session.deleted:
            continue
        if obj in session.deleted:
            tx.fee_settled_at = None
        else:
            settled_at = obj.settlement.settled_at if obj.settlement is not None else None
            tx.fee_settled_at = settled_at or utcnow()


@sa.event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    with session.no_autoflush:
        _sync_fee_settled(session)
        ids = _lead_ids(session, session.new, dirty=False) | _lead_ids(session, session.dirty, dirty=True)
        ids |= _lead_ids(session, session.deleted, dirty=False)
        _remember(session, ids)


@sa.event.listens_for(Session, "after_flush")
def _after_flush(session, flush_context):
    _apply_pending(session, {obj.id for obj in session.new if isinstance(obj, Lead)})


@sa.event.listens_for(Session, "before_commit")
def _before_commit(session):
    """A bulk statement with no flush after it still lands in the rollups before the commit."""
    _apply_pending(session, set())


def _apply_pending(session: Session, new_ids: set) -> None:
    if not session.info.get(PENDING) and not new_ids:
        return
    pending = session.info.pop(PENDING, {})
    ids = set(pending) | new_ids
    after = _facts_for(session, ids)
    deltas = fold((f for f in pending.values() if f is not None), sign=-1)
    fold(after.values(), into=deltas)
    apply(session, deltas)


@sa.event.listens_for(Session, "do_orm_execute")
def _bulk_statement(orm_execute_state):
    """A bulk DELETE/UPDATE of leads, transactions or settlement lines: read the facts before it runs."""
    if not (orm_execute_state.is_delete or orm_execute_state.is_update):
        return
    stmt = orm_execute_state.statement
    table = getattr(stmt, "table", None)
    if orm_execute_state.is_update and table is Lead.__table__:
        changed = {getattr(k, "key", k) for k in (getattr(stmt, "_values", None) or {})}
        if changed <= {"version", "updated_at"}:
            return
    lead_col = {Lead.__table__: Lead.id, CT.__table__: CT.lead_id, ITEM.__table__: ITEM.lead_id}.get(table)
    if lead_col is None:
        return
    session = orm_execute_state.session
    ids = set(session.connection().scalars(sa.select(lead_col).where(stmt.whereclause)))
    if table is ITEM.__table__ and orm_execute_state.is_delete:  # the fees become outstanding again
        settled = sa.select(ITEM.transaction_id).where(stmt.whereclause)
        session.connection().execute(sa.update(CT).where(CT.id.in_(settled)).values(fee_settled_at=None))
    ids.discard(None)
    _remember(session, ids)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop(PENDING, None)


# --- reading ----------------------------------------------------------------------------------------


def _sums(table, measures=MEASURES) -> list:
    return [sa.func.coalesce(sa.func.sum(getattr(table, m)), 0).label(m) for m in measures]


def values(row, measures=MEASURES) -> dict:
    """A rollup sum as Python values: money measures as Decimal (from cents), counts as int."""
    data = row._mapping if hasattr(row, "_mapping") else row
    return {
        m: (Decimal(int(data[m] or 0)) / 100).quantize(Decimal("0.01")) if m in MONEY_MEASURES else int(data[m] or 0)
        for m in measures
    }


def _day_range(stmt, column, date_from: date | None, date_to: date | None):
    if date_from is not None:
        stmt = stmt.where(column >= date_from)
    if date_to is not None:
        stmt = stmt.where(column <= date_to)
    return stmt


def platform_sums(date_from: date | None = None, date_to: date | None = None, measures=MEASURES) -> dict:
    """The daily rollup summed over whole days [date_from, date_to] (each measure by its own date)."""
    stmt = _day_range(sa.select(*_sums(DailyRollup, measures)), DailyRollup.day, date_from, date_to)
    return values(db.session.execute(stmt).one(), measures)


def platform_sums_split(split: date, measures) -> tuple[dict, dict]:
    """The daily rollup summed over all days and over the days before `split`, in one scan."""
    early = [
        sa.func.coalesce(sa.func.sum(sa.case((DailyRollup.day < split, getattr(DailyRollup, m)), else_=0)), 0)
        for m in measures
    ]
    row = db.session.execute(sa.select(*_sums(DailyRollup, measures), *early)).one()
    return values(dict(zip(measures, row[: len(measures)], strict=True)), measures), values(
        dict(zip(measures, row[len(measures) :], strict=True)), measures
    )


def partner_sums(cp_id, measures=MEASURES) -> dict:
    """One partner's figures over all time (its report rows: its commissions and its leads)."""
    table = PartnerMonthlyRollup
    stmt = sa.select(*_sums(table, measures)).where(table.cp_key == cp_id, table.month == ALL_TIME)
    return values(db.session.execute(stmt).one(), measures)


def daily_grouped(key, date_from: date, date_to: date, measures) -> list[dict]:
    """The daily rollup summed per `key` (an SQL expression over DailyRollup) for days in the range."""
    label = key.label("key")
    stmt = _day_range(sa.select(label, *_sums(DailyRollup, measures)), DailyRollup.day, date_from, date_to)
    return [{"key": row.key, **values(row, measures)} for row in db.session.execute(stmt.group_by(label))]


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def _has_rows(date_from: date, date_to: date) -> bool:
    return date_from <= date_to and platform_sums(date_from, date_to, ("rows",))["rows"] > 0


def partner_months(date_from: date, date_to: date) -> tuple[date, date] | None:
    """The months the partner rollup can answer for [date_from, date_to] exactly, or None when it cannot.

    A month cut by the range is still exact when no report row falls in the part left out (the daily
    rollup tells at once): so the usual "whole months up to today" ranges never touch the rows."""
    first, last = _month_start(date_from), _month_start(date_to)
    if _has_rows(first, date_from - timedelta(days=1)) or _has_rows(date_to + timedelta(days=1), _month_end(date_to)):
        return None
    return first, last


RANKING_BATCH = 50
RANKING_MAX_CANDIDATES = 1000


def top_partners(first_month: date, last_month: date, limit: int) -> list[dict]:
    """Partners ranked by won value, then won count, then name, over whole months of the partner rollup.

    A partner's won value in a range is at most its all-time won value, so candidates are taken in
    order of the all-time figure, a batch at a time, until the last place of the ranking beats every
    candidate left; only when that fails to settle quickly (many ties) are all partners summed."""

    table = PartnerMonthlyRollup
    bounds = (
        sa.select(table.cp_key, table.won_value)
        .where(table.month == ALL_TIME, table.cp_key != NO_KEY)
        .order_by(table.won_value.desc(), table.won_leads.desc(), table.cp_key)
    )
    ranked: list[dict] = []
    offset = 0
    while offset < RANKING_MAX_CANDIDATES:
        batch = db.session.execute(bounds.limit(RANKING_BATCH).offset(offset)).all()
        if batch:
            ranked = _ranked(ranked + _range_sums([b.cp_key for b in batch], first_month, last_month), limit)
        if len(batch) < RANKING_BATCH:
            return ranked  # every partner considered
        offset += RANKING_BATCH
        if len(ranked) == limit and cents(ranked[-1]["won_value"]) > batch[-1].won_value:
            return ranked
    return _ranked(_range_sums(None, first_month, last_month), limit)


def _ranked(rows: list[dict], limit: int) -> list[dict]:
    return sorted(rows, key=lambda r: (-r["won_value"], -r["won_leads"], r["cp_name"] or ""))[:limit]


def _range_sums(cp_keys, first_month: date, last_month: date) -> list[dict]:
    """Per partner (of `cp_keys`, or all) sums over the months, with the partner's name; partners gone are left out."""
    from app.models import ChannelPartner

    table = PartnerMonthlyRollup
    measures = ("rows", "won_leads", "lost_leads", "won_value")
    stmt = (
        sa.select(table.cp_key, ChannelPartner.company_name.label("cp_name"), *_sums(table, measures))
        .join(ChannelPartner, ChannelPartner.id == table.cp_key)
        .where(table.month >= first_month, table.month <= last_month)
        .group_by(table.cp_key, ChannelPartner.company_name)
        .having(sa.func.sum(table.rows) > 0)
    )
    if cp_keys is not None:
        stmt = stmt.where(table.cp_key.in_(cp_keys))
    return [{"cp_id": r.cp_key, "cp_name": r.cp_name, **values(r, measures)} for r in db.session.execute(stmt)]
