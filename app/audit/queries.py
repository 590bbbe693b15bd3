"""Reading the audit log: filtered, paginated search and a readable before/after diff. Read-only by design."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import AuditEvent, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # part of the actor's email or name
    action: str = ""
    entity_type: str = ""
    entity_id: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive


def search(filters: AuditFilters, page: int = 1, per_page: int = PAGE_SIZE):
    """The events matching `filters`, newest first, as a Flask-SQLAlchemy pagination."""
    stmt = (
        sa.select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    if filters.actor:
        like = f"%{filters.actor.lower()}%"
        actors = sa.select(User.id).where(
            sa.or_(sa.func.lower(User.email).like(like), sa.func.lower(User.name).like(like))
        )
        stmt = stmt.where(AuditEvent.actor_id.in_(actors))
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.entity_type:
        stmt = stmt.where(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        stmt = stmt.where(AuditEvent.entity_id == filters.entity_id)
    if filters.date_from:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        stmt = stmt.where(AuditEvent.created_at < datetime.combine(filters.date_to, time.min) + timedelta(days=1))
    return db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False)


def actions() -> list[str]:
    """Every action name in the log, for the filter's choices."""
    return list(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def entity_types() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)))


@dataclass(frozen=True)
class Change:
    field: str
    before: object
    after: object
    kind: str  # "added", "removed", "changed" or "same"


def _show(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_show(v)}" for k, v in value.items()) or "—"
    return str(value)


def diff(before: dict | None, after: dict | None) -> list[Change]:
    """Field-by-field changes between two snapshots, in a stable order (fields as first seen)."""
    before, after = before or {}, after or {}
    fields = list(dict.fromkeys([*before.keys(), *after.keys()]))
    changes = []
    for field in fields:
        old, new = before.get(field), after.get(field)
        if field not in before:
            kind = "added"
        elif field not in after:
            kind = "removed"
        else:
            kind = "same" if old == new else "changed"
        changes.append(Change(field.replace("_", " "), _show(old) if field in before else "", _show(new), kind))
    return changes
