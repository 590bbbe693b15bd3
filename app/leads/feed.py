"""The leads a user may list through the API (SPEC 9.5), filtered; the same visibility as app.loaders.load_lead:
staff see every lead, a partner's members the leads assigned to it or originated by it.

A partner's leads are given as the two disjoint halves of that OR (app.leads.filters.partner_halves, as the lead
lists do): an OR cannot be read in (created_at, id) order from one index, so the page would be found by walking
every lead newest first until enough of the partner's turned up (141 ms for the largest partner at 1,000,000
leads, the whole table for a partner whose leads are all old), while each half is read from its own index
(ix_leads_assignee_created, ix_leads_originated_created) just up to the end of the page. The statements are built
once per shape (which filters are on; app.statements), the values bound when they run."""

import sqlalchemy as sa

from app.leads.filters import partner_halves
from app.models import Lead
from app.statements import per_shape

COLUMNS = {
    "stage": Lead.kanban_stage,
    "intake_status": Lead.intake_status,
    "allocation_status": Lead.allocation_status,
    "category_id": Lead.category_id,
    "partner_id": Lead.allocated_to,
    "channel": Lead.channel,
}


def statement(user, filters: dict) -> tuple[tuple, dict]:
    """(the selects of Lead whose rows together are the leads `user` may see that match `filters`, their bind
    parameters). The selects find disjoint rows: app.api.pagination.keyset_page reads each in order and merges
    them."""
    values = {name: filters[name] for name in (*COLUMNS, "created_after") if filters.get(name) is not None}
    if user.is_staff:
        return _parts(tuple(values), "staff"), values
    if user.partner is None:
        return _parts((), "nobody"), {}
    return _parts(tuple(values), "partner"), {**values, "cp": user.partner.id}


@per_shape(maxsize=256)
def _parts(names: tuple, audience: str) -> tuple:
    conditions = [COLUMNS[name] == sa.bindparam(name, type_=COLUMNS[name].type) for name in names if name in COLUMNS]
    if "created_after" in names:
        conditions.append(Lead.created_at >= sa.bindparam("created_after", type_=Lead.created_at.type))
    stmt = sa.select(Lead).where(*conditions)
    if audience == "staff":
        return (stmt,)
    if audience == "nobody":
        return (stmt.where(sa.false()),)
    return tuple(stmt.where(*half) for half in partner_halves())
