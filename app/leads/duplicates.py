"""Duplicate detection (SPEC 9.2): a lead whose normalised email or E.164 phone matches a live lead of the
last 90 days is a possible duplicate of the earliest such lead, whose originator keeps the credit."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.extensions import db
from app.models import Lead
from app.models.base import utcnow
from app.models.leads import DEAD_INTAKE_STATUSES

WINDOW = timedelta(days=90)


def any_of(column, values):
    """`column IN values`; on PostgreSQL as `= ANY(one array parameter)`, which a batch of a thousand values
    sends without rendering a thousand parameters."""
    if db.engine.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String)))
    return column.in_(list(values))


def _earliest(column, values, since, exclude_id=None):
    stmt = sa.select(Lead.id, Lead.created_at, column.label("key")).where(
        any_of(column, values), Lead.created_at >= since, Lead.intake_status.not_in(DEAD_INTAKE_STATUSES)
    )
    if exclude_id is not None:
        stmt = stmt.where(Lead.id != exclude_id)
    return stmt


def find_duplicate(email_normalized: str | None, phone_e164: str | None, *, exclude_id=None) -> Lead | None:
    """The earliest live lead of the window with this email or phone, or None (two index range scans)."""
    since = utcnow() - WINDOW
    found = []
    for column, value in ((Lead.email_normalized, email_normalized), (Lead.phone_e164, phone_e164)):
        if value:
            stmt = _earliest(column, [value], since, exclude_id).order_by(Lead.created_at).limit(1)
            found.extend(db.session.execute(stmt).all())
    if not found:
        return None
    return db.session.get(Lead, min(found, key=lambda row: row.created_at).id)


def matches_for(emails: set[str], phones: set[str]) -> dict[tuple[str, str], object]:
    """For a batch (an import): {("email"|"phone", value): id of the earliest live lead} in one query each."""
    since, result = utcnow() - WINDOW, {}
    for kind, column, values in (("email", Lead.email_normalized, emails), ("phone", Lead.phone_e164, phones)):
        if not values:
            continue
        rows = db.session.execute(_earliest(column, sorted(values), since).order_by(Lead.created_at.desc())).all()
        for row in rows:  # newest first, so the earliest lead of each value is written last
            result[(kind, row.key)] = row.id
    return result
