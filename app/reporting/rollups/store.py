"""Writing the rollups: the upserts of a flush's deltas, a full rebuild from the rows, and the reconciliation.

`rebuild()` refolds every row (used after the bulk COPY of app/tools/scale.py and by `flask rebuild-rollups`);
`reconcile()` lists every rollup row that differs from a fresh fold of the rows (empty = in step).
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Lead
from app.models.rollups import MEASURES, DailyRollup, PartnerMonthlyRollup
from app.reporting.rollups.facts import CT, ITEM, LIVE, facts_select, fold
from app.statements import per_shape

TABLES = {"daily": DailyRollup, "partner": PartnerMonthlyRollup}
KEYS = {"daily": ("period", "day", "category_key"), "partner": ("cp_key", "month")}


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


@per_shape(maxsize=256)
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
    expected = fold(session.execute(facts_select().execution_options(stream_results=True, yield_per=5000)))
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
        # Stored rows stream past and are checked against the fold, which is emptied as it goes; what is left
        # of it has no stored row at all.
        n = len(KEYS[table_name])
        columns = [table.__table__.c[c] for c in (*KEYS[table_name], *MEASURES)]
        stored = session.execute(sa.select(*columns).execution_options(stream_results=True, yield_per=5000))
        for row in stored:
            key, have = tuple(row[:n]), dict(zip(MEASURES, row[n:], strict=True))
            problems += _differences(table_name, key, have, expected.pop((table_name, key), {}))
        for key in [key for (name, key) in expected if name == table_name]:
            problems += _differences(table_name, key, {}, expected.pop((table_name, key)))
    return problems


def _differences(table_name: str, key: tuple, have: dict, want: dict) -> list[str]:
    return [
        f"{table_name} {key} {m}: rollup {have.get(m, 0)} != rows {want.get(m, 0)}"
        for m in MEASURES
        if have.get(m, 0) != want.get(m, 0)
    ]
