"""What a lead list or board asks to see: LeadFilters, parsed from the query string (unknown or malformed values
are ignored) and written back into links, and each filter as a condition on a bind parameter of its own name.

A statement is built once for each combination of filters in use (the names, in criteria_for's order) and cached
(app.statements.per_shape); a request only binds the values. Building the board's statement cost more than
running it.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from app.models import Category, Lead
from app.models.leads import ALLOCATION_STATUSES, INTAKE_STATUSES, STAGES
from app.statements import per_shape
from app.validators import query_date, query_uuid

STAGE_ORDER = sa.case({stage: index for index, stage in enumerate(STAGES)}, value=Lead.kanban_stage)
SORTS = {
    "title": sa.func.lower(Lead.title),
    "category": sa.func.lower(Category.name),
    "value": Lead.lead_value,
    "commission": Lead.commission_amount,
    "fee": Lead.platform_fee_amount,
    "net": Lead.net_commission,
    "stage": STAGE_ORDER,
    "updated": Lead.updated_at,
    "created": Lead.created_at,
    "score": Lead.quality_score,
}
NEVER_NULL_SORTS = {"title", "stage", "updated", "created", "score"}


@dataclass
class LeadFilters:
    """What the user asked to see; unknown or malformed values are ignored rather than refused."""

    stage: str | None = None
    allocation: str | None = None
    intake: str | None = None
    cp_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = "updated"
    direction: str = "desc"

    @classmethod
    def from_args(cls, args) -> "LeadFilters":
        sort = args.get("sort", "updated")
        return cls(
            stage=args.get("stage") if args.get("stage") in STAGES else None,
            allocation=args.get("allocation") if args.get("allocation") in ALLOCATION_STATUSES else None,
            intake=args.get("intake") if args.get("intake") in INTAKE_STATUSES else None,
            cp_id=query_uuid(args.get("cp")),
            category_id=query_uuid(args.get("category")),
            date_from=query_date(args.get("from")),
            date_to=query_date(args.get("to")),
            q=(args.get("q") or "").strip()[:100],
            sort=sort if sort in SORTS else "updated",
            direction="asc" if args.get("dir") == "asc" else "desc",
        )

    def args(self, **changes) -> dict:
        """The query-string form of these filters, with `changes` applied (for sort links)."""
        values = {
            "stage": self.stage,
            "allocation": self.allocation,
            "intake": self.intake,
            "cp": self.cp_id,
            "category": self.category_id,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q or None,
            "sort": self.sort,
            "dir": self.direction,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v is not None}


@per_shape(maxsize=1)
def _conditions() -> dict:
    """{filter name: its condition on the bind parameter of that name}."""
    partner, like = sa.bindparam("cp", type_=Lead.allocated_to.type), sa.bindparam("q", type_=sa.String())
    return {
        "assigned_to": Lead.allocated_to == sa.bindparam("assigned_to"),
        "stage": Lead.kanban_stage == sa.bindparam("stage"),
        "allocation": Lead.allocation_status == sa.bindparam("allocation"),
        "intake": Lead.intake_status == sa.bindparam("intake"),
        "cp": sa.or_(Lead.allocated_to == partner, Lead.originated_by == partner),
        "category": Lead.category_id == sa.bindparam("category"),
        "date_from": Lead.created_at >= sa.bindparam("date_from"),
        "date_to": Lead.created_at < sa.bindparam("date_to"),
        "q": sa.or_(
            sa.func.lower(Lead.title).like(like),
            sa.func.lower(sa.func.coalesce(Lead.contact_company, "")).like(like),
            sa.func.lower(sa.func.coalesce(Lead.contact_name, "")).like(like),
        ),
    }


def criteria_for(filters: LeadFilters, assigned_to=None, stage: bool = True) -> dict:
    """The filters in use as {bind parameter: value}, always in this order (`stage=False`: leave out the stage)."""
    values = {
        "assigned_to": assigned_to,
        "stage": filters.stage if stage else None,
        "allocation": filters.allocation,
        "intake": filters.intake,
        "cp": filters.cp_id,
        "category": filters.category_id,
        "date_from": datetime.combine(filters.date_from, time.min) if filters.date_from else None,
        "date_to": datetime.combine(filters.date_to + timedelta(days=1), time.min) if filters.date_to else None,
        "q": f"%{filters.q.lower()}%" if filters.q else None,
    }
    return {name: value for name, value in values.items() if value is not None}


def where_filters(stmt, names: tuple):
    conditions = _conditions()
    return stmt.where(*(conditions[name] for name in names))


def partner_halves() -> tuple:
    """The partner filter ("cp": allocated to or originated by the partner) as two disjoint sets of conditions."""
    partner = sa.bindparam("cp", type_=Lead.allocated_to.type)
    elsewhere = sa.or_(Lead.allocated_to.is_(None), Lead.allocated_to != partner)
    return ((Lead.allocated_to == partner,), (Lead.originated_by == partner, elsewhere))


def sort_order(column, sort: str, direction: str):
    order = column.asc() if direction == "asc" else column.desc()
    # NULLS LAST on a NOT NULL column only stops index use
    return order if sort in NEVER_NULL_SORTS else order.nulls_last()
