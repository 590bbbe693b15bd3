"""THE session hook that keeps the rollups in step with the rows, inside the same database transaction.

Whenever a flush touches a lead, a transaction, a settlement line or a partner's fee payment, the hook reads
the facts (app.reporting.rollups.facts) of the affected leads before and after the flush and applies the
difference with upserts (app.reporting.rollups.store), so the rollups commit or roll back with the rows.
Bulk DELETE/UPDATE statements on those tables are caught too: their leads' facts are read before the
statement runs. `register()` (called by app.reporting.rollups.init_app) installs the listeners once.

The contract with the stage-change UPDATE (app/leads/pipeline.py `_claim_version`), both sides rely on it:

- The pipeline writes a lead's stage, allocation and dates with ONE bulk `UPDATE leads ... WHERE id = :id
  AND version = :expected`, executed through the ORM session (`db.session.execute`, not a Core connection),
  with a WHERE on the leads table's own columns only and a SET of literal values (no SQL expressions).
- The hook (`_bulk_statement` -> `_lead_update`) then reads the facts before with the statement's own WHERE,
  locking those rows (FOR UPDATE), runs the statement, and, when its row count equals the rows it read,
  takes the facts after from the literal values instead of reading them again (DERIVED): one read per move.
- Anything else still works, at the price of a second read: a WHERE that joins other tables, a SET of an
  expression or of lead_value (the database rounds it), an ORM change of the same lead before the flush.
  Writing these columns outside the session (raw SQL on a connection, COPY) bypasses the hook: run
  `rollups.rebuild()` after it.
- Only LEAD_FIELDS move a figure; an UPDATE that sets none of them (version, updated_at, title) is ignored.
"""

from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.util import find_tables

from app.models import CpPayment, Lead
from app.models.base import utcnow
from app.reporting.rollups.facts import CT, ITEM, SETTLEMENT, facts_for, facts_select, fold
from app.reporting.rollups.store import apply

LEAD_FIELDS = ("kanban_stage", "lead_value", "category_id", "allocated_to", "allocation_status", "created_at")
LEAD_FIELDS += ("stage_changed_at",)
TX_FIELDS = ("status", "gross_commission", "platform_fee", "net_commission", "won_at", "cp_id", "lead_id")
TX_FIELDS += ("settlement_requested_at", "client_paid_cp_directly")
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
        found = found if found is not None else facts_for(session, new)
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


def _before_flush(session, flush_context, instances):
    with session.no_autoflush:
        _sync_fee_settled(session)
        ids = _lead_ids(session, session.new, dirty=False) | _lead_ids(session, session.dirty, dirty=True)
        ids |= _lead_ids(session, session.deleted, dirty=False)
        _remember(session, ids)


def _after_flush(session, flush_context):
    _apply_pending(session, {obj.id for obj in session.new if isinstance(obj, Lead)})


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
    after = facts_for(session, (set(pending) | new_ids) - set(known))
    after.update(known)
    deltas = fold((f for f in pending.values() if f is not None), sign=-1)
    fold(after.values(), into=deltas)
    apply(session, deltas)


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


def _forget(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop(PENDING, None)
        session.info.pop(DERIVED, None)


# Session-wide listeners (event, function), installed by `register()`.
LISTENERS = (
    ("before_flush", _before_flush),
    ("after_flush", _after_flush),
    ("before_commit", _before_commit),
    ("do_orm_execute", _bulk_statement),
    ("after_soft_rollback", _forget),
)


def register() -> None:
    """Install the session listeners, once per process whatever the number of apps (sqlalchemy keeps them)."""
    for name, listener in LISTENERS:
        if not sa.event.contains(Session, name, listener):
            sa.event.listen(Session, name, listener)
