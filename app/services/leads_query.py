"""Reading leads for the list and kanban views: filters, sorting, pagination, eager loading.

Every read here runs a fixed number of SQL queries whatever the number of leads (the board is one
query for the cards plus one for the column totals), and renders a bounded number of rows: the
board shows each column's first page of cards and loads the rest with "Show more".
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import Category, ChannelPartner, Lead, LeadEvidence, LeadNote
from app.models.leads import ALLOCATION_STATUSES, STAGE_LABELS, STAGES

PAGE_SIZE = 25
COUNT_CAP = 10_000  # the lead lists count exactly up to here, then say "10,000+"
BOARD_LIMIT = 1000  # cards a column form may post
COLUMN_PAGE = 15  # cards per column on the board, and per "Show more"
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
}
NEVER_NULL_SORTS = {"title", "stage", "updated", "created"}


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


@dataclass
class LeadFilters:
    """What the user asked to see; unknown or malformed values are ignored rather than refused."""

    stage: str | None = None
    allocation: str | None = None
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
            cp_id=_uuid(args.get("cp")),
            category_id=_uuid(args.get("category")),
            date_from=_date(args.get("from")),
            date_to=_date(args.get("to")),
            q=(args.get("q") or "").strip()[:100],
            sort=sort if sort in SORTS else "updated",
            direction="asc" if args.get("dir") == "asc" else "desc",
        )

    def args(self, **changes) -> dict:
        """The query-string form of these filters, with `changes` applied (for sort links)."""
        values = {
            "stage": self.stage,
            "allocation": self.allocation,
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


def _filtered(stmt, filters: LeadFilters, assigned_to=None):
    if assigned_to is not None:
        stmt = stmt.where(Lead.allocated_to == assigned_to)
    if filters.stage:
        stmt = stmt.where(Lead.kanban_stage == filters.stage)
    if filters.allocation:
        stmt = stmt.where(Lead.allocation_status == filters.allocation)
    if filters.cp_id:
        stmt = stmt.where(sa.or_(Lead.allocated_to == filters.cp_id, Lead.originated_by == filters.cp_id))
    if filters.category_id:
        stmt = stmt.where(Lead.category_id == filters.category_id)
    if filters.date_from:
        stmt = stmt.where(Lead.created_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        stmt = stmt.where(Lead.created_at < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    if filters.q:
        like = f"%{filters.q.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Lead.title).like(like),
                sa.func.lower(sa.func.coalesce(Lead.contact_company, "")).like(like),
                sa.func.lower(sa.func.coalesce(Lead.contact_name, "")).like(like),
            )
        )
    return stmt


def list_page(filters: LeadFilters, page: int = 1, assigned_to=None, per_page: int = PAGE_SIZE):
    """One page of leads with their category (and partner, for staff); notes and evidence load on expand."""
    column = SORTS[filters.sort]
    order = column.asc() if filters.direction == "asc" else column.desc()
    if filters.sort not in NEVER_NULL_SORTS:  # NULLS LAST on a NOT NULL column only stops index use
        order = order.nulls_last()
    stmt = sa.select(Lead).options(joinedload(Lead.category)).order_by(order, Lead.id)
    if filters.sort == "category":
        stmt = stmt.outerjoin(Category, Category.id == Lead.category_id)
    if assigned_to is None:
        stmt = stmt.options(joinedload(Lead.assignee))
    stmt = _filtered(stmt, filters, assigned_to)
    pagination = db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False, count=False)
    pagination.total = capped_count(_filtered(sa.select(Lead.id), filters, assigned_to))
    pagination.capped = pagination.total > COUNT_CAP
    return pagination


def capped_count(stmt, cap: int = COUNT_CAP) -> int:
    """How many rows `stmt` finds, counting no further than cap + 1: a page of a million leads need not
    count them all to say "10,000+" (and a partner's or a narrow filter's count stays exact)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.limit(cap + 1).subquery()))


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


def column_totals(filters: LeadFilters, assigned_to=None, stages=STAGES) -> dict[str, tuple[int, Decimal]]:
    """Count and lead-value total per stage, in one query."""
    stmt = sa.select(Lead.kanban_stage, sa.func.count(), sa.func.coalesce(sa.func.sum(Lead.lead_value), 0)).group_by(
        Lead.kanban_stage
    )
    stmt = _filtered(stmt.where(Lead.kanban_stage.in_(stages)), _without_stage(filters), assigned_to)
    return {stage: (count, Decimal(total)) for stage, count, total in db.session.execute(stmt)}


def _without_stage(filters: LeadFilters) -> LeadFilters:
    return LeadFilters(**{**filters.__dict__, "stage": None})


def _board_base(filters: LeadFilters, assigned_to=None):
    return _filtered(sa.select(Lead), _without_stage(filters), assigned_to)


def _newest_first(stmt):
    return stmt.order_by(Lead.updated_at.desc(), Lead.id.desc())


def board(filters: LeadFilters, assigned_to=None, stages=STAGES, per_column: int = COLUMN_PAGE) -> list[Column]:
    """The kanban columns for `stages`: each column's count and value total, and its `per_column` most
    recently updated cards (one UNION ALL of per-stage LIMIT queries, each served by an index)."""
    firsts = [
        _newest_first(_board_base(filters, assigned_to).where(Lead.kanban_stage == stage))
        .with_only_columns(Lead.id)
        .limit(per_column + 1)
        .subquery()
        for stage in stages
    ]
    ids = sa.union_all(*(sa.select(sub.c.id) for sub in firsts))
    stmt = _newest_first(sa.select(Lead).where(Lead.id.in_(ids)))
    if assigned_to is None:
        stmt = stmt.options(joinedload(Lead.assignee))
    columns = {stage: Column(stage) for stage in stages}
    for lead in db.session.scalars(stmt).unique():
        columns[lead.kanban_stage].cards.append(lead)
    for column in columns.values():
        column.more = len(column.cards) > per_column
        del column.cards[per_column:]
    for stage, (count, total) in column_totals(filters, assigned_to, stages).items():
        columns[stage].count, columns[stage].total = count, total
    return list(columns.values())


def card_cursor(lead) -> str:
    """Where the next page of a column starts: after this card (newest first)."""
    return f"{lead.updated_at.isoformat()}_{lead.id}"


def column_page(filters: LeadFilters, stage: str, after: str, assigned_to=None, per_column: int = COLUMN_PAGE):
    """The next `per_column` cards of one column after the cursor `after`, and whether more follow."""
    stmt = _board_base(filters, assigned_to).where(Lead.kanban_stage == stage)
    moment, _, lead_id = (after or "").partition("_")
    try:
        moment, lead_id = datetime.fromisoformat(moment), uuid.UUID(lead_id)
    except ValueError:
        moment = lead_id = None
    if moment is not None:
        stmt = stmt.where(sa.or_(Lead.updated_at < moment, sa.and_(Lead.updated_at == moment, Lead.id < lead_id)))
    if assigned_to is None:
        stmt = stmt.options(joinedload(Lead.assignee))
    cards = list(db.session.scalars(_newest_first(stmt).limit(per_column + 1)))
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
    partner_id = _uuid(partner_id)
    if partner_id is None:
        return ""
    return db.session.scalar(sa.select(ChannelPartner.company_name).where(ChannelPartner.id == partner_id)) or ""


def approved_partners() -> list[sa.Row]:
    """(id, company_name) of every approved partner, for pickers: plain rows, not 10,000 loaded models."""
    stmt = sa.select(ChannelPartner.id, ChannelPartner.company_name).where(ChannelPartner.status == "approved")
    return list(db.session.execute(stmt.order_by(ChannelPartner.company_name)))


def categories() -> list[Category]:
    return list(db.session.scalars(sa.select(Category).order_by(Category.sort_order, Category.name)))
