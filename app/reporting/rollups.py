"""Maintained aggregates of the report rows: kept in step by ONE session hook, rebuilt and reconciled from the rows.

Each lead contributes a fixed set of figures (`contributions`) to a daily row (day, category) and a
monthly partner row (month, partner), computed from one "fact" row: the lead joined to its commission
transaction and fee-settlement line (the same columns app.reporting.reports reads). Whenever a flush
touches a lead, a transaction or a settlement line, the hook reads the facts of the affected leads
before and after the flush and applies the difference with upserts, inside the same database
transaction, so the rollups commit or roll back with the rows. Bulk DELETE/UPDATE statements on
those tables are caught too (their leads' facts are read before the statement runs).

`rebuild()` refolds every row (used after the bulk COPY of app/tools/scale.py and by `flask rebuild-rollups`);
`reconcile()` lists every rollup row that differs from a fresh fold of the rows (empty = in step).
"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.util import find_tables

from app.extensions import db
from app.models import CommissionTransaction, CpPayment, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.models.base import utcnow
from app.models.rollups import (
    ALL_TIME,
    DAY,
    MEASURES,
    MONEY_MEASURES,
    MONTH,
    NO_KEY,
    WEEK,
    DailyRollup,
    PartnerMonthlyRollup,
)

CT, ITEM, SETTLEMENT = CommissionTransaction, PlatformFeeSettlementItem, PlatformFeeSettlement
LIVE = ("pending", "due", "paid")
OPEN = ("new", "contacted", "qualified", "proposal", "negotiation")
LEAD_FIELDS = ("kanban_stage", "lead_value", "category_id", "allocated_to", "allocation_status", "created_at")
LEAD_FIELDS += ("stage_changed_at",)
TX_FIELDS = ("status", "gross_commission", "platform_fee", "net_commission", "won_at", "cp_id", "lead_id")
TX_FIELDS += ("settlement_requested_at", "client_paid_cp_directly")
TABLES = {"daily": DailyRollup, "partner": PartnerMonthlyRollup}
KEYS = {"daily": ("period", "day", "category_key"), "partner": ("cp_key", "month")}
PENDING = "rollup_before"  # session.info: {lead_id: facts before the changes not yet applied}
# session.info: {lead_id: {fact: value}} for pending leads whose only change is a bulk UPDATE of literal values
# into columns the facts copy as they are: their facts after are the facts before with these values.
DERIVED = "rollup_derived"
# Lead columns a fact row copies unchanged (column -> fact label). lead_value is not here: the database
# rounds it to its scale, so what an UPDATE wrote must be read back.
COPIED = {
    "kanban_stage": "stage",
    "category_id": "category_id",
    "allocated_to": "allocated_to",
    "allocation_status": "allocation_status",
    "created_at": "created_at",
    "stage_changed_at": "stage_changed_at",
}


# --- one lead's figures ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
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


def _facts_for(session: Session, lead_ids) -> dict:
    ids = list(lead_ids)
    found = {}
    for start in range(0, len(ids), 500):
        rows = session.connection().execute(facts_select().where(Lead.id.in_(ids[start : start + 500])))
        found.update({row.lead_id: row for row in rows})
    return found


# --- writing ----------------------------------------------------------------------------------------


def apply(session: Session, deltas: dict) -> None:
    """Upsert the non-zero deltas: one multi-row INSERT ... ON CONFLICT per table, keys sorted so that
    concurrent transactions lock rollup rows in one order (no deadlock between two of them).

    On PostgreSQL both tables are written by one statement (the daily upsert as a data-modifying CTE,
    which runs once and to completion, after the main statement): one round trip instead of two, and
    every transaction still takes the rows of the two tables in the same order."""
    shape, params = [], {}
    for table_name in TABLES:
        changes = {
            key: {m: v for m, v in measures.items() if v}
            for (name, key), measures in deltas.items()
            if name == table_name and any(measures.values())
        }
        if not changes:
            continue
        names = tuple(sorted({m for measures in changes.values() for m in measures}))
        keys = sorted(changes, key=str)
        shape.append((table_name, names, len(keys)))
        for i, key in enumerate(keys):
            params.update({f"{table_name}_{i}_{c}": v for c, v in zip(KEYS[table_name], key, strict=True)})
            params.update({f"{table_name}_{i}_{m}": changes[key].get(m, 0) for m in names})
    combined = len(shape) == 2 and session.get_bind().dialect.name == "postgresql"
    build = _upserts if sum(rows for _, _, rows in shape) <= 16 else _upserts.__wrapped__
    for stmt in build(tuple(shape), combined):
        session.connection().execute(stmt, params)


@lru_cache(maxsize=256)
def _upserts(shape: tuple, combined: bool) -> list:
    """The upsert statements for `shape` ((table, measures, row count) per table), as text, memoized by shape:
    SQLAlchemy does not cache a multi-row INSERT, and building and compiling one on every flush cost more
    than running it. Every name in it comes from KEYS and MEASURES; the values are bound parameters. The
    measures left out take the server default 0."""
    statements = []
    for table_name, names, rows in shape:
        table = TABLES[table_name].__table__
        columns = (*KEYS[table_name], *names)
        binds = [sa.bindparam(f"{table_name}_{i}_{c}", type_=table.c[c].type) for i in range(rows) for c in columns]
        values = ", ".join("(" + ", ".join(f":{table_name}_{i}_{c}" for c in columns) + ")" for i in range(rows))
        quoted, key = ", ".join(f'"{c}"' for c in columns), ", ".join(f'"{k}"' for k in KEYS[table_name])
        added = ", ".join(f'"{m}" = {table.name}."{m}" + excluded."{m}"' for m in names)
        # Names from KEYS/MEASURES only, values bound: nothing a user sends reaches this text.
        sql = f"INSERT INTO {table.name} ({quoted}) VALUES {values} ON CONFLICT ({key}) DO UPDATE SET {added}"  # noqa: S608  # nosec B608
        statements.append((sql, binds))
    if combined:
        (daily, daily_binds), (partner, partner_binds) = statements
        statements = [(f"WITH daily_upsert AS ({daily}) {partner}", daily_binds + partner_binds)]
    return [sa.text(sql).bindparams(*binds) for sql, binds in statements]


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
    # A lead counts for its commission's partner; boards and lists read those figures as its allocated partner's.
    elsewhere = sa.select(sa.func.count()).select_from(CT).join(Lead, Lead.id == CT.lead_id)
    elsewhere = elsewhere.where(CT.status.in_(LIVE), sa.or_(Lead.allocated_to.is_(None), Lead.allocated_to != CT.cp_id))
    if session.scalar(elsewhere):
        problems.append(f"{session.scalar(elsewhere)} live commissions belong to a partner other than their lead's")
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
        elif isinstance(obj, CpPayment) and (not dirty or _changed(obj, ("status", "commission_tx_id"))):
            ids.add(session.connection().scalar(sa.select(CT.lead_id).where(CT.id == obj.commission_tx_id)))
        elif isinstance(obj, SETTLEMENT) and dirty and _changed(obj, ("settled_at",)):
            ids.update(session.connection().scalars(sa.select(ITEM.lead_id).where(ITEM.settlement_id == obj.id)))
    ids.discard(None)
    return ids


def _remember(session: Session, lead_ids, found: dict | None = None) -> set:
    """Keep the facts before the change of the leads not pending yet (read now unless `found` has them);
    returns those leads. A lead already pending is changed again: its facts after will be read."""
    pending = session.info.setdefault(PENDING, {})
    derived = session.info.get(DERIVED, {})
    new = set()
    for lead_id in lead_ids:
        if lead_id in pending:
            derived.pop(lead_id, None)
        else:
            new.add(lead_id)
    if new:
        found = found if found is not None else _facts_for(session, new)
        for lead_id in new:
            pending[lead_id] = found.get(lead_id)
    return new


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
    derived = session.info.pop(DERIVED, {})
    known = {
        lead_id: SimpleNamespace(**{**pending[lead_id]._mapping, **values})
        for lead_id, values in derived.items()
        if pending.get(lead_id) is not None and lead_id not in new_ids
    }
    after = _facts_for(session, (set(pending) | new_ids) - set(known))
    after.update(known)
    deltas = fold((f for f in pending.values() if f is not None), sign=-1)
    fold(after.values(), into=deltas)
    apply(session, deltas)


@sa.event.listens_for(Session, "do_orm_execute")
def _bulk_statement(orm_execute_state):
    """A bulk DELETE/UPDATE of leads, transactions or settlement lines: read the facts before it runs."""
    if not (orm_execute_state.is_delete or orm_execute_state.is_update):
        return None
    stmt = orm_execute_state.statement
    table = getattr(stmt, "table", None)  # ORM-annotated: compare by lookup (==), not identity
    lead_col = {Lead.__table__: Lead.id, CT.__table__: CT.lead_id, ITEM.__table__: ITEM.lead_id}.get(table)
    if table == CpPayment.__table__:  # a fee paid by the partner: the lead's fee may become ready to settle
        lead_col = CT.lead_id
        stmt = sa.select(CT.lead_id).where(CT.id.in_(sa.select(CpPayment.commission_tx_id).where(stmt.whereclause)))
    if lead_col is None:
        return None
    lead_update = orm_execute_state.is_update and lead_col is Lead.id
    raw = getattr(stmt, "_values", None)  # None: the SET comes some other way (ordered values, parameters)
    values = {getattr(k, "key", k): v for k, v in raw.items()} if raw is not None else None
    if lead_update and not set(values or ()) & set(LEAD_FIELDS):
        return None  # no figure depends on what it sets (version, updated_at, title...)
    session = orm_execute_state.session
    if session.autoflush and orm_execute_state.execution_options.get("autoflush", True):
        # The statement's autoflush would run after this hook and apply (and forget) the facts read here
        # before the statement itself runs: flush first, so these facts are the ones the statement changes.
        session.flush()
    if lead_update and _on_leads_only(stmt.whereclause):
        return _lead_update(orm_execute_state, values)
    ids = set(session.connection().scalars(sa.select(lead_col).where(stmt.whereclause)))
    if lead_col is ITEM.lead_id and orm_execute_state.is_delete:  # the fees become outstanding again
        settled = sa.select(ITEM.transaction_id).where(stmt.whereclause)
        session.connection().execute(sa.update(CT).where(CT.id.in_(settled)).values(fee_settled_at=None))
    ids.discard(None)
    _remember(session, ids)
    return None


def _on_leads_only(whereclause) -> bool:
    return whereclause is not None and {t.name for t in find_tables(whereclause, check_columns=True)} == {"leads"}


def _lead_update(orm_execute_state, values: dict):
    """A bulk UPDATE of leads filtered on their own columns (pipeline._claim_version's guarded UPDATE).

    The facts before are read with the statement's own criteria, which gives the leads and their facts in
    one statement, and lock those rows: the UPDATE then changes at least them, so when its row count is
    theirs it changed exactly them. If it also writes only literal values (or none) into the fact columns,
    the facts after are known without a second read (DERIVED); any other change of these leads before
    the flush drops that (`_remember`), and their facts after are read as usual."""
    session = orm_execute_state.session
    query = facts_select().where(orm_execute_state.statement.whereclause).with_for_update(of=Lead)
    found = {row.lead_id: row for row in session.connection().execute(query)}
    new = _remember(session, found, found)
    result = orm_execute_state.invoke_statement()
    derived = _literal_facts(values) if not orm_execute_state.parameters else None
    if derived is not None and result.rowcount == len(found):
        session.info.setdefault(DERIVED, {}).update({lead_id: derived for lead_id in new})
    return result


def _literal_facts(values: dict | None) -> dict | None:
    """{fact label: value} an UPDATE's SET writes into the facts, or None if one of them must be read back."""
    if values is None:
        return None
    facts = {}
    for name, value in values.items():
        if name not in LEAD_FIELDS:
            continue  # version, updated_at, lost_reason...: no figure depends on them
        if name not in COPIED or not isinstance(value, BindParameter) or value.required or value.callable:
            return None
        if isinstance(value.value, datetime) and value.value.tzinfo is not None:
            return None  # the column is naive: the database would shift an aware value
        facts[COPIED[name]] = value.value
    return facts


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop(PENDING, None)
        session.info.pop(DERIVED, None)


# --- reading ----------------------------------------------------------------------------------------
#
# The hot read statements are built once per shape (which measures; which kinds of rows, with or without a
# first and last day) with the days and keys as bound parameters, and kept (lru_cache): building and
# hashing a select of forty-odd sums took longer than running it over the rollup's few hundred rows.
# Only statements are kept, never a result.

Part = tuple[str, date | None, date | None]  # (period, first day, last day) of platform rollup rows; None: open


def _sums(table, measures=MEASURES) -> list:
    """SUM of each measure (NULL over no rows, which `values` reads as 0)."""
    return [sa.func.sum(getattr(table, m)).label(m) for m in measures]


def money(cents_total) -> Decimal:
    """Integer cents as Decimal with two places, exactly."""
    return Decimal(int(cents_total or 0)).scaleb(-2)


def values(row, measures=MEASURES) -> dict:
    """A rollup sum as Python values: money measures as Decimal (from cents), counts as int."""
    data = row._mapping if hasattr(row, "_mapping") else row
    return {m: money(data[m]) if m in MONEY_MEASURES else int(data[m] or 0) for m in measures}


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_end(day: date) -> date:
    return _next_month(day) - timedelta(days=1)


def period_start(day: date, period: str) -> date:
    """The first day of the week (Monday) or month `day` falls in; `day` itself for DAY."""
    if period == MONTH:
        return day.replace(day=1)
    return day - timedelta(days=day.weekday()) if period == WEEK else day


def rows_of(date_from: date | None, date_to: date | None, period: str = MONTH) -> tuple[Part, ...]:
    """The platform rollup's rows that add up to [date_from, date_to] (None: open), each day counted once: the
    rows of the whole months (or weeks) in it and the day rows of the (at most two) it cuts.

    Group them only by what is the same on every day of such a period (a month or week, a category)."""
    if period == DAY:
        return ((DAY, date_from, date_to),)
    first = date_from
    if date_from is not None and period_start(date_from, period) != date_from:  # the next period's first day
        first = _next_month(date_from) if period == MONTH else period_start(date_from, period) + timedelta(days=7)
    end = None if date_to is None else date_to + timedelta(days=1)  # the day after the last whole period
    if end is not None and period_start(end, period) != end:
        end = period_start(date_to, period)
    if first is not None and end is not None and first >= end:  # no whole period: days only
        return ((DAY, date_from, date_to),) if date_from <= date_to else ()
    parts = [(period, first, None if end is None else end - timedelta(days=1))]
    if date_from is not None and date_from < first:
        parts.append((DAY, date_from, first - timedelta(days=1)))
    if date_to is not None and end <= date_to:
        parts.append((DAY, end, date_to))
    return tuple(parts)


def rows_shape(parts: tuple[Part, ...]) -> tuple:
    """What a statement over these rows depends on, their days aside (a key for the kept statements)."""
    return tuple((period, first is not None, last is not None) for period, first, last in parts)


def rows_where(shape: tuple, prefix: str) -> sa.ColumnElement[bool]:
    """The condition for rows of this shape, their days bound parameters named after `prefix` (`rows_params`)."""
    table = DailyRollup
    alternatives = []
    for i, (period, has_first, has_last) in enumerate(shape):
        conditions = [table.period == period]
        if has_first:
            conditions.append(table.day >= sa.bindparam(f"{prefix}{i}_first"))
        if has_last:
            conditions.append(table.day <= sa.bindparam(f"{prefix}{i}_last"))
        alternatives.append(sa.and_(*conditions))
    return sa.or_(*alternatives) if alternatives else sa.false()


def rows_params(parts: tuple[Part, ...], prefix: str) -> dict:
    """The days of these rows as the bound parameters of `rows_where(rows_shape(parts), prefix)`."""
    found = {}
    for i, (_period, first, last) in enumerate(parts):
        if first is not None:
            found[f"{prefix}{i}_first"] = first
        if last is not None:
            found[f"{prefix}{i}_last"] = last
    return found


def period_rows(date_from: date | None, date_to: date | None, period: str = MONTH) -> sa.ColumnElement[bool]:
    """`rows_of` as a condition with its days in it (for a statement built on each call)."""
    table = DailyRollup
    alternatives = []
    for part, first, last in rows_of(date_from, date_to, period):
        conditions = [table.period == part]
        if first is not None:
            conditions.append(table.day >= first)
        if last is not None:
            conditions.append(table.day <= last)
        alternatives.append(sa.and_(*conditions))
    return sa.or_(*alternatives) if alternatives else sa.false()


def all_time_select(measures=MEASURES) -> sa.Select:
    """A select of the platform figures over all time (the month rows), to add columns to."""
    return sa.select(*_sums(DailyRollup, measures)).where(DailyRollup.period == MONTH)


@lru_cache(maxsize=64)
def _platform_statement(measures: tuple, shape: tuple) -> sa.Select:
    return sa.select(*_sums(DailyRollup, measures)).where(rows_where(shape, "r"))


def platform_sums(date_from: date | None = None, date_to: date | None = None, measures=MEASURES) -> dict:
    """The platform figures over the whole days [date_from, date_to] (each measure by its own date); all time by default."""
    parts = rows_of(date_from, date_to)
    row = db.session.execute(_platform_statement(tuple(measures), rows_shape(parts)), rows_params(parts, "r")).one()
    return values(row, measures)


@lru_cache(maxsize=64)
def _split_statement(measures: tuple, shape: tuple, extra: tuple) -> sa.Select:
    every, before = DailyRollup.period == MONTH, rows_where(shape, "r")

    def total(where, m):
        return sa.func.sum(sa.case((where, getattr(DailyRollup, m)), else_=0))

    stmt = sa.select(*(total(every, m) for m in measures), *(total(before, m) for m in measures), *extra)
    return stmt.where(sa.or_(every, before))


def platform_sums_split(
    split: date, measures, extra: tuple = (), params: dict | None = None
) -> tuple[dict, dict, tuple]:
    """The platform figures over all time and over the days before `split`, in one statement; `extra` are more
    columns for the same statement (scalar subqueries, with their `params`), returned as they come.
    Pass the same `extra` objects each time: the statement is built once per shape."""
    measures = tuple(measures)
    parts = rows_of(None, split - timedelta(days=1))
    stmt = _split_statement(measures, rows_shape(parts), tuple(extra))
    row = db.session.execute(stmt, {**rows_params(parts, "r"), **(params or {})}).one()
    count = len(measures)
    return (
        values(dict(zip(measures, row[:count], strict=True)), measures),
        values(dict(zip(measures, row[count : 2 * count], strict=True)), measures),
        tuple(row[2 * count :]),
    )


@lru_cache(maxsize=16)
def _category_statement(measures: tuple) -> sa.Select:
    table = DailyRollup
    return sa.select(*_sums(table, measures)).where(table.period == MONTH, table.category_key == sa.bindparam("cat"))


def category_sums(category_id, measures=MEASURES) -> dict:
    """The platform figures of one category over all time (its month rows)."""
    return values(db.session.execute(_category_statement(tuple(measures)), {"cat": category_id}).one(), measures)


@lru_cache(maxsize=16)
def _partner_statement(measures: tuple) -> sa.Select:
    table = PartnerMonthlyRollup
    return sa.select(*_sums(table, measures)).where(table.cp_key == sa.bindparam("cp_key"), table.month == ALL_TIME)


def partner_sums(cp_id, measures=MEASURES) -> dict:
    """One partner's figures over all time (its report rows: its commissions and its leads)."""
    return values(db.session.execute(_partner_statement(tuple(measures)), {"cp_key": cp_id}).one(), measures)


def daily_grouped(key, date_from: date | None, date_to: date | None, measures, period: str = MONTH) -> list[dict]:
    """The platform figures over [date_from, date_to] summed per `key`, an SQL expression over DailyRollup that
    is the same on every day of a `period` (a month, a category: whole months come from the month rows;
    pass WEEK for a week key, DAY for a finer one)."""
    label = key.label("key")
    stmt = sa.select(label, *_sums(DailyRollup, measures)).where(period_rows(date_from, date_to, period))
    return [{"key": row.key, **values(row, measures)} for row in db.session.execute(stmt.group_by(label))]


def outside_days(date_from: date, date_to: date) -> list[tuple[date, date]]:
    """The days of the months [date_from, date_to] cuts that lie outside it (for `partner_months`)."""
    parts = [
        (_month_start(date_from), date_from - timedelta(days=1)),
        (date_to + timedelta(days=1), _month_end(date_to)),
    ]
    return [(start, end) for start, end in parts if start <= end]


def partner_months(date_from: date, date_to: date, rows_outside: int | None = None) -> tuple[date, date] | None:
    """The months the partner rollup can answer for [date_from, date_to] exactly, or None when it cannot.

    A month cut by the range is still exact when no report row falls in the part left out (the daily
    rollup tells at once, or the caller already counted them: `rows_outside`, over `outside_days`): so
    the usual "whole months up to today" ranges never touch the rows."""
    if rows_outside is None:
        days = outside_days(date_from, date_to)
        rows_outside = sum(platform_sums(start, end, ("rows",))["rows"] for start, end in days)
    return None if rows_outside else (_month_start(date_from), _month_start(date_to))


RANKING_BATCH = 50
RANKING_MAX_CANDIDATES = 1000
RANKED_MEASURES = ("rows", "won_leads", "lost_leads", "won_value")


def top_partners(first_month: date, last_month: date, limit: int, first_batch: list | None = None) -> list[dict]:
    """Partners ranked by won value, then won count, then name, over whole months of the partner rollup.

    A partner's won value in a range is at most its all-time won value, so candidates are taken in
    order of the all-time figure, a batch at a time (one statement: the candidates with their sums
    over the months), until the last place of the ranking beats every candidate left; only when that
    fails to settle quickly (many ties) are all partners summed. `first_batch`: the rows of the first
    batch when the caller read them already (`candidates_select` inside its own statement)."""
    ranked: list[dict] = []
    offset = 0
    while offset < RANKING_MAX_CANDIDATES:
        if offset == 0 and first_batch is not None:
            batch = first_batch
        else:
            params = {"offset": offset, "first_month": first_month, "last_month": last_month}
            batch = db.session.execute(candidates_select(RANKING_BATCH), params).all()
        found = [_partner_row(r) for r in batch if r.cp_name is not None and r.rows]  # gone, or no rows: left out
        ranked = _ranked(ranked + found, limit)
        if len(batch) < RANKING_BATCH:
            return ranked  # every partner considered
        offset += RANKING_BATCH
        if len(ranked) == limit and cents(ranked[-1]["won_value"]) > min(r.bound for r in batch):
            return ranked
    return _ranked(_range_sums(None, first_month, last_month), limit)


@lru_cache(maxsize=4)
def candidates_select(batch: int) -> sa.Select:
    """The next `batch` partners by all-time won value (`bound`) after :offset, each with its sums over the
    months [:first_month, :last_month] (NULL without rows there) and its name (NULL for a partner gone)."""
    from app.models import ChannelPartner

    table = PartnerMonthlyRollup
    candidates = (
        sa.select(table.cp_key, table.won_value.label("bound"))
        .where(table.month == ALL_TIME, table.cp_key != NO_KEY)
        .order_by(table.won_value.desc(), table.won_leads.desc(), table.cp_key)
        .limit(batch)
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .cte("candidates")
    )
    sums = (
        sa.select(table.cp_key, *_sums(table, RANKED_MEASURES))
        .where(table.cp_key.in_(sa.select(candidates.c.cp_key)))
        .where(table.month >= sa.bindparam("first_month"), table.month <= sa.bindparam("last_month"))
        .group_by(table.cp_key)
        .subquery("sums")
    )
    return (
        sa.select(
            candidates.c.cp_key,
            candidates.c.bound,
            ChannelPartner.company_name.label("cp_name"),
            *(sums.c[m] for m in RANKED_MEASURES),
        )
        .select_from(candidates)
        .outerjoin(sums, sums.c.cp_key == candidates.c.cp_key)
        .outerjoin(ChannelPartner, ChannelPartner.id == candidates.c.cp_key)
    )


def _partner_row(row) -> dict:
    sums = {m: getattr(row, m) for m in RANKED_MEASURES}
    return {"cp_id": row.cp_key, "cp_name": row.cp_name, **values(sums, RANKED_MEASURES)}


def _ranked(rows: list[dict], limit: int) -> list[dict]:
    return sorted(rows, key=lambda r: (-r["won_value"], -r["won_leads"], r["cp_name"] or ""))[:limit]


def _range_sums(cp_keys, first_month: date, last_month: date) -> list[dict]:
    """Per partner (of `cp_keys`, or all) sums over the months, with the partner's name; partners gone are left out."""
    from app.models import ChannelPartner

    table = PartnerMonthlyRollup
    sums = (
        sa.select(table.cp_key, *_sums(table, RANKED_MEASURES))
        .where(table.month >= first_month, table.month <= last_month)
        .group_by(table.cp_key)
        .having(sa.func.sum(table.rows) > 0)
    )
    if cp_keys is not None:
        sums = sums.where(table.cp_key.in_(cp_keys))
    sums = sums.subquery("sums")
    stmt = sa.select(sums, ChannelPartner.company_name.label("cp_name")).join(
        ChannelPartner, ChannelPartner.id == sums.c.cp_key
    )
    return [_partner_row(r) for r in db.session.execute(stmt)]
