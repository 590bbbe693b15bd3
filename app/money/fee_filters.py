"""Which platform fees a list shows: the FeeFilter, parsed from the query string and written back into links, and
its conditions as bind parameters (a statement is built once per combination of conditions in use)."""

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import ChannelPartner, CommissionTransaction
from app.models.base import utcnow
from app.validators import query_date, query_uuid

CT = CommissionTransaction


@dataclass(frozen=True)
class FeeFilter:
    cp_id: uuid.UUID | None = None
    date_from: date | None = None  # won on or after
    date_to: date | None = None  # won on or before
    state: str = ""  # "" (all) | settled | outstanding
    overdue: bool = False  # outstanding and won more than FEE_OVERDUE_DAYS ago
    partner_name: str = ""  # what was typed in the partner search (when there are too many for a list)


def overdue_cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=current_app.config["FEE_OVERDUE_DAYS"])


# --- the filter as bind parameters --------------------------------------------------------------------
# Each active part of a FeeFilter is a condition on a bind parameter; the hot statements (the page, its
# counts) are built once per combination of parts in use and kept, and a request only binds the values.


def filter_parts(f: FeeFilter) -> tuple[tuple[str, ...], dict]:
    """(names of the conditions in use, in a fixed order; their bind values)."""
    values = {
        "cp_id": f.cp_id,
        "won_from": datetime.combine(f.date_from, time.min) if f.date_from else None,
        "won_before": datetime.combine(f.date_to + timedelta(days=1), time.min) if f.date_to else None,
        "overdue_cutoff": overdue_cutoff() if f.overdue else None,
    }
    parts = [part for part, key in _VALUED_PARTS if values[key] is not None]
    if f.state == "settled":
        parts.append("settled")
    elif f.state == "outstanding" or f.overdue:
        # The denormalised settled date (not an anti-join with the settlement items): the partial index
        # ix_commission_transactions_fee_outstanding then walks only the outstanding fees by won_at.
        parts.append("outstanding")
    return tuple(parts), {key: value for key, value in values.items() if value is not None}


_VALUED_PARTS = (("cp", "cp_id"), ("from", "won_from"), ("to", "won_before"), ("overdue", "overdue_cutoff"))


def where_parts(stmt: sa.Select, parts: tuple[str, ...]) -> sa.Select:
    conditions = {
        "cp": lambda: CT.cp_id == sa.bindparam("cp_id", type_=CT.cp_id.type),
        "from": lambda: CT.won_at >= sa.bindparam("won_from", type_=CT.won_at.type),
        "to": lambda: CT.won_at < sa.bindparam("won_before", type_=CT.won_at.type),
        "settled": lambda: CT.fee_settled_at.is_not(None),
        "outstanding": lambda: CT.fee_settled_at.is_(None),
        "overdue": lambda: CT.won_at < sa.bindparam("overdue_cutoff", type_=CT.won_at.type),
    }
    return stmt.where(*(conditions[part]() for part in parts))


def apply_filter(stmt: sa.Select, f: FeeFilter) -> sa.Select:
    parts, values = filter_parts(f)
    return where_parts(stmt, parts).params(**values)


def parse_filter(args) -> FeeFilter:
    """A FeeFilter from query-string or form values (cp, from, to, state, overdue); bad values are ignored."""
    state = args.get("state", "")
    name = (args.get("partner") or "").strip()[:200]
    cp_id = query_uuid(args.get("cp"))
    return FeeFilter(
        cp_id=cp_id if cp_id or not name else partner_by_name(name),
        partner_name=name if cp_id is None else "",
        date_from=query_date(args.get("from")),
        date_to=query_date(args.get("to")),
        state=state if state in ("settled", "outstanding") else "",
        overdue=args.get("overdue") in ("1", "on", "true", "y"),
    )


def partner_by_name(name: str) -> uuid.UUID:
    """The partner a typed name means: the exact name (any case), else the first name containing it.

    No match gives an id no partner has, so the filtered list is empty rather than unfiltered."""
    lowered = sa.func.lower(ChannelPartner.company_name)
    pattern = "%" + name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    stmt = (
        sa.select(ChannelPartner.id)
        .where(lowered.like(pattern, escape="\\"))
        .order_by((lowered == name.lower()).desc(), ChannelPartner.company_name)
        .limit(1)
    )
    return db.session.scalar(stmt) or uuid.UUID(int=0)


def filter_args(f: FeeFilter) -> dict:
    """The query-string form of a filter (for links, pagers and the batch form's hidden fields)."""
    if f.partner_name:
        f = replace(f, cp_id=None)
    args = {
        "cp": f.cp_id,
        "partner": f.partner_name,
        "from": f.date_from,
        "to": f.date_to,
        "state": f.state,
        "overdue": "1" if f.overdue else "",
    }
    return {k: str(v) for k, v in args.items() if v}
