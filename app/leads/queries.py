"""Reading leads for the list and kanban views: filters, sorting, pagination.

Every read here runs a fixed number of SQL queries whatever the number of leads (the board is one
query for the cards plus one for the column totals, a list page one for its rows plus one count), and
renders a bounded number of rows: the board shows each column's first page of cards and loads the rest
with "Show more". Cards and rows are read as plain rows of the columns they show (Card, LeadRow), not as
loaded Lead objects, and each statement is built once per combination of filters and cached (see filters.py).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.leads.filters import SORTS, LeadFilters, criteria_for, partner_halves, sort_order, where_filters
from app.models import Category, ChannelPartner, Lead, LeadEvidence, LeadNote
from app.models.leads import STAGE_LABELS, STAGES
from app.reporting import rollups
from app.statements import per_shape
from app.validators import query_uuid

PAGE_SIZE = 25
COUNT_CAP = 10_000  # the lead lists count exactly up to here, then say "10,000+"
BOARD_LIMIT = 1000  # cards a column form may post
COLUMN_PAGE = 15  # cards per column on the board, and per "Show more"


def _rollup_sums(criteria: dict, measures) -> dict | None:
    """Figures over the leads these filters find, from the maintained rollups, when the filters are at most a stage
    and either the partner whose leads these are or a category; None when the rollups cannot tell.

    A lead counts in a partner's rollup rows for the partner it is allocated to (its commission's partner is the
    same one); the platform's month rows are kept per category."""
    if set(criteria) - {"stage", "assigned_to", "category"}:
        return None
    return rollups.figures(measures, cp_id=criteria.get("assigned_to"), category_id=criteria.get("category"))


# --- lists -------------------------------------------------------------------------------------------


class LeadRow(NamedTuple):
    """What a list row shows, read as plain columns rather than a loaded Lead (with its category's and its
    partner's names: the partner's only for staff). The answer to an action on a row makes one from the Lead."""

    id: uuid.UUID
    title: str
    allocated_to: uuid.UUID | None
    kanban_stage: str
    lead_value: Decimal | None
    commission_amount: Decimal | None
    platform_fee_amount: Decimal | None
    net_commission: Decimal | None
    fee_capped: bool
    fee_override_type: str | None
    fee_override_value: Decimal | None
    lost_reason: str | None
    version: int
    updated_at: datetime
    quality_score: int
    intake_status: str
    category_name: str | None
    assignee_name: str | None

    # The model's own properties, read from the same fields.
    has_fee_override = Lead.has_fee_override
    stage_label = Lead.stage_label
    intake_label = Lead.intake_label

    @classmethod
    def from_lead(cls, lead: Lead) -> "LeadRow":
        values = [getattr(lead, column.key) for column in ROW_COLUMNS]
        category, assignee = lead.category, lead.assignee
        return cls(*values, category.name if category else None, assignee.company_name if assignee else None)


ROW_COLUMNS = (
    Lead.id,
    Lead.title,
    Lead.allocated_to,
    Lead.kanban_stage,
    Lead.lead_value,
    Lead.commission_amount,
    Lead.platform_fee_amount,
    Lead.net_commission,
    Lead.fee_capped,
    Lead.fee_override_type,
    Lead.fee_override_value,
    Lead.lost_reason,
    Lead.version,
    Lead.updated_at,
    Lead.quality_score,
    Lead.intake_status,
)


@per_shape(maxsize=512)
def _list_statement(names: tuple, sort: str, direction: str, staff: bool, per_page: int):
    """A page of rows: the page is chosen over the leads' own columns (sorted, limited, offset by the bind
    parameter `offset`), then joined to the category and partner names, so only its rows are joined."""
    key = SORTS[sort]

    def sorted_rows(filters: tuple, *conditions, limit):
        rows = where_filters(sa.select(*ROW_COLUMNS, Lead.category_id, key.label("sort_key")), filters).where(
            *conditions
        )
        if sort == "category":
            rows = rows.outerjoin(Category, Category.id == Lead.category_id)
        return rows.order_by(sort_order(key, sort, direction), Lead.id).limit(limit)

    offset = sa.bindparam("offset", type_=sa.Integer)
    if "cp" in names:
        # The partner filter is "allocated to or originated by": an OR reads and sorts every lead of both, while
        # each half alone is read in index order up to the end of the page; the page is cut from their merge.
        others = tuple(name for name in names if name != "cp")
        halves = [sorted_rows(others, *half, limit=offset + per_page).subquery() for half in partner_halves()]
        merged = sa.union_all(*(sa.select(*half.c) for half in halves)).subquery()
        page = sa.select(*merged.c).order_by(sort_order(merged.c.sort_key, sort, direction), merged.c.id)
        page = page.limit(per_page).offset(offset)
    else:
        page = sorted_rows(names, limit=per_page).offset(offset)
    rows = page.subquery()
    category, partner = Category.__table__, ChannelPartner.__table__
    stmt = (
        sa.select(*(rows.c[column.key] for column in ROW_COLUMNS), category.c.name)
        .outerjoin(category, category.c.id == rows.c.category_id)
        .order_by(sort_order(rows.c.sort_key, sort, direction), rows.c.id)
    )
    if staff:
        return stmt.add_columns(partner.c.company_name).outerjoin(partner, partner.c.id == rows.c.allocated_to)
    return stmt.add_columns(sa.null())


def _count(criteria: dict) -> int:
    """How many leads the filters find (see _count_statement for its cap): from the rollups when they know it, and
    for the partner filter the partner's allocated leads from its rollup row plus the others counted."""
    measure = f"stage_{criteria['stage']}" if "stage" in criteria else "rows"
    sums = _rollup_sums(criteria, (measure,))
    if sums is not None:
        return sums[measure]
    if set(criteria) - {"stage"} == {"cp"}:
        allocated = rollups.partner_sums(criteria["cp"], (measure,))[measure]
        return allocated + db.session.scalar(_originated_elsewhere_count(tuple(criteria)), criteria)
    statement = _count_statement(tuple(criteria))
    if criteria.get("allocation") == "allocated" and set(criteria) - {"stage", "category"} == {"allocation"}:
        # Allocated = all of them (rollups) - the few waiting for allocation, when those are few enough to count.
        everyone = _rollup_sums({k: v for k, v in criteria.items() if k != "allocation"}, (measure,))[measure]
        waiting = db.session.scalar(statement, {**criteria, "allocation": "pending"})
        if waiting <= COUNT_CAP:
            return everyone - waiting
    return db.session.scalar(statement, criteria)


@per_shape(maxsize=8)
def _originated_elsewhere_count(names: tuple):
    others = tuple(name for name in names if name != "cp")
    stmt = where_filters(sa.select(Lead.id), others).where(*partner_halves()[1]).limit(COUNT_CAP + 1).subquery()
    return sa.select(sa.func.count()).select_from(stmt)


@per_shape(maxsize=256)
def _count_statement(names: tuple):
    """How many leads the filters find, counting no further than COUNT_CAP + 1: a page of a million leads need
    not count them all to say "More than 10,000" (and a partner's or a narrow filter's count stays exact).
    The partner filter counts its two halves (see _list_statement) rather than an OR of them."""
    if "cp" in names:
        others = tuple(name for name in names if name != "cp")
        halves = [
            where_filters(sa.select(Lead.id), others).where(*half).limit(COUNT_CAP + 1) for half in partner_halves()
        ]
        capped = sa.union_all(*(sa.select(h.subquery().c.id) for h in halves)).limit(COUNT_CAP + 1).subquery()
    else:
        capped = where_filters(sa.select(Lead.id), names).limit(COUNT_CAP + 1).subquery()
    return sa.select(sa.func.count()).select_from(capped)


class RowsPage(Pagination):
    """Flask-SQLAlchemy's pagination over rows read by a function of the offset (a cached statement)."""

    def _query_items(self) -> list:
        return self._query_args["read_rows"](self._query_offset)

    def _query_count(self) -> int:
        return self._query_args["read_count"]()


def list_page(filters: LeadFilters, page: int = 1, assigned_to=None, per_page: int = PAGE_SIZE) -> RowsPage:
    """One page of LeadRows with their category's name (and partner's, for staff), and the count of the
    leads found, capped (see _count_statement); notes and evidence load when a row is opened."""
    criteria = criteria_for(filters, assigned_to)
    stmt = _list_statement(tuple(criteria), filters.sort, filters.direction, assigned_to is None, per_page)

    def read(offset: int) -> list[LeadRow]:
        return [LeadRow(*row) for row in db.session.execute(stmt, {**criteria, "offset": offset})]

    def count() -> int:
        return min(_count(criteria), COUNT_CAP + 1)

    pagination = RowsPage(page=max(page, 1), per_page=per_page, error_out=False, read_rows=read, read_count=count)
    pagination.capped = pagination.total > COUNT_CAP
    return pagination


def load_details(lead) -> Lead:
    """Load the lead's evidence (with files) and notes (with authors) up front, for its expanded row."""
    stmt = (
        sa.select(Lead)
        .where(Lead.id == lead.id)
        .options(
            selectinload(Lead.evidence).joinedload(LeadEvidence.file),
            selectinload(Lead.notes).joinedload(LeadNote.author),
        )
        .execution_options(populate_existing=True)
    )
    return db.session.scalars(stmt).one()


# --- the board ---------------------------------------------------------------------------------------


@dataclass
class Column:
    stage: str
    cards: list = field(default_factory=list)
    count: int = 0
    total: Decimal = Decimal("0.00")
    more: bool = False

    @property
    def label(self) -> str:
        return STAGE_LABELS[self.stage]


@per_shape(maxsize=512)
def _totals_statement(names: tuple, stages: tuple):
    value = sa.func.coalesce(sa.func.sum(Lead.lead_value), 0)
    stmt = sa.select(Lead.kanban_stage, sa.func.count(), value).where(Lead.kanban_stage.in_(stages))
    return where_filters(stmt, names).group_by(Lead.kanban_stage)


def column_totals(filters: LeadFilters, assigned_to=None, stages=STAGES) -> dict[str, tuple[int, Decimal]]:
    """Count and lead-value total per stage, in one query (the board's filters: all but the stage)."""
    criteria = criteria_for(filters, assigned_to, stage=False)
    sums = _rollup_sums(criteria, [m for stage in stages for m in (f"stage_{stage}", f"stage_{stage}_value")])
    if sums is not None:
        return {stage: (sums[f"stage_{stage}"], sums[f"stage_{stage}_value"]) for stage in stages}
    stmt = _totals_statement(tuple(criteria), tuple(stages))
    return {stage: (count, Decimal(total)) for stage, count, total in db.session.execute(stmt, criteria)}


class Card(NamedTuple):
    """What a kanban card shows, read as plain columns rather than a loaded Lead (a board has ~100 of them)."""

    id: uuid.UUID
    title: str
    kanban_stage: str
    lead_value: Decimal | None
    version: int
    updated_at: datetime
    assignee_name: str | None = None  # staff boards only: the partner the lead is allocated to

    @classmethod
    def from_lead(cls, lead: Lead, staff: bool) -> "Card":
        """The card of a Lead already loaded (the one just moved on the board)."""
        name = (lead.assignee.company_name if lead.assignee else None) if staff else None
        return cls(lead.id, lead.title, lead.kanban_stage, lead.lead_value, lead.version, lead.updated_at, name)


CARD_COLUMNS = (Lead.id, Lead.title, Lead.kanban_stage, Lead.lead_value, Lead.version, Lead.updated_at)


def _newest_first(stmt, columns=Lead):
    return stmt.order_by(columns.updated_at.desc(), columns.id.desc())


def _cards(names: tuple, staff: bool):
    """The select of card columns (staff's with allocated_to) under the filters `names`."""
    return where_filters(sa.select(*CARD_COLUMNS, *((Lead.allocated_to,) if staff else ())), names)


def _as_cards(stmt, staff: bool):
    """`stmt` (a select of _cards) newest first, staff's joined to the name of each lead's partner."""
    rows = stmt.subquery()
    select = sa.select(*(rows.c[column.key] for column in CARD_COLUMNS))
    if staff:
        partner = ChannelPartner.__table__
        select = select.add_columns(partner.c.company_name).outerjoin(partner, partner.c.id == rows.c.allocated_to)
    return _newest_first(select, rows.c)


@per_shape(maxsize=256)
def _board_statement(names: tuple, stages: tuple, per_column: int, staff: bool):
    firsts = [
        _newest_first(_cards(names, staff).where(Lead.kanban_stage == stage)).limit(per_column + 1).subquery()
        for stage in stages
    ]
    return _as_cards(sa.union_all(*(sa.select(*first.c) for first in firsts)), staff)


def board(filters: LeadFilters, assigned_to=None, stages=STAGES, per_column: int = COLUMN_PAGE) -> list[Column]:
    """The kanban columns for `stages`: each column's count and value total, and its `per_column` most
    recently updated Cards (one UNION ALL of per-stage LIMIT queries, each served by an index)."""
    criteria = criteria_for(filters, assigned_to, stage=False)
    staff = assigned_to is None
    stmt = _board_statement(tuple(criteria), tuple(stages), per_column, staff)
    columns = {stage: Column(stage) for stage in stages}
    for card in (Card(*row) for row in db.session.execute(stmt, criteria)):
        columns[card.kanban_stage].cards.append(card)
    for column in columns.values():
        column.more = len(column.cards) > per_column
        del column.cards[per_column:]
    for stage, (count, total) in column_totals(filters, assigned_to, stages).items():
        columns[stage].count, columns[stage].total = count, total
    return list(columns.values())


def card_cursor(card) -> str:
    """Where the next page of a column starts: after this card (newest first)."""
    return f"{card.updated_at.isoformat()}_{card.id}"


@per_shape(maxsize=256)
def _column_statement(names: tuple, after: bool, per_column: int, staff: bool):
    stmt = _cards(names, staff).where(Lead.kanban_stage == sa.bindparam("column"))
    if after:
        moment, lead_id = sa.bindparam("after_moment", type_=Lead.updated_at.type), sa.bindparam("after_id")
        stmt = stmt.where(sa.or_(Lead.updated_at < moment, sa.and_(Lead.updated_at == moment, Lead.id < lead_id)))
    return _as_cards(_newest_first(stmt).limit(per_column + 1), staff)


def column_page(filters: LeadFilters, stage: str, after: str, assigned_to=None, per_column: int = COLUMN_PAGE):
    """The next `per_column` cards of one column after the cursor `after`, and whether more follow."""
    criteria = criteria_for(filters, assigned_to, stage=False)
    moment, _, lead_id = (after or "").partition("_")
    try:
        cursor = {"after_moment": datetime.fromisoformat(moment), "after_id": uuid.UUID(lead_id)}
    except ValueError:
        cursor = {}
    stmt = _column_statement(tuple(criteria), bool(cursor), per_column, assigned_to is None)
    cards = [Card(*row) for row in db.session.execute(stmt, {**criteria, **cursor, "column": stage})]
    return cards[:per_column], len(cards) > per_column


def partner_matches(typed: str, limit: int = 10) -> list[sa.Row]:
    """(id, company_name) of up to `limit` partners whose name contains `typed`, for the partner filter."""
    typed = (typed or "").strip()[:100].lower()
    if not typed:
        return []
    pattern = "%" + typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    name = sa.func.lower(ChannelPartner.company_name)
    stmt = (
        sa.select(ChannelPartner.id, ChannelPartner.company_name)
        .where(name.like(pattern, escape="\\"))
        .order_by(name.not_like(typed + "%"), ChannelPartner.company_name)
        .limit(limit)
    )
    return list(db.session.execute(stmt))


def partner_label(partner_id) -> str:
    """The company name of the partner a filter is set to ('' when none)."""
    partner_id = query_uuid(partner_id)
    if partner_id is None:
        return ""
    return db.session.scalar(sa.select(ChannelPartner.company_name).where(ChannelPartner.id == partner_id)) or ""


def approved_partners() -> list[sa.Row]:
    """(id, company_name) of every partner that takes new leads (approved, works assigned leads), for the
    allocation picker: plain rows, not 10,000 loaded models. Inactive partners are not offered."""
    stmt = sa.select(ChannelPartner.id, ChannelPartner.company_name).where(
        ChannelPartner.status == "approved", ChannelPartner.cap_works.is_(True)
    )
    return list(db.session.execute(stmt.order_by(ChannelPartner.company_name)))


def categories() -> list[sa.Row]:
    """(id, name) of every category in menu order, for the filters and pickers."""
    return list(db.session.execute(sa.select(Category.id, Category.name).order_by(Category.sort_order, Category.name)))
