"""Lead records for the route walk: "lead" is assigned to world cp (with money and a note);
"unallocated_lead" waits for an admin. cp's originated-only lead ("originated_lead") comes from w10_catalog."""

from app.extensions import db
from app.models import LeadNote
from tests import factories


def add(world):
    cp, admin = world["partners"]["cp"], world["users"]["admin"]
    lead = factories.make_lead(
        assignee=cp, title="World assigned lead", lead_value="10000", commission_amount="1000", kanban_stage="contacted"
    )
    db.session.add(LeadNote(lead_id=lead.id, author_id=admin.id, body="Call back on Monday."))
    unallocated = factories.make_lead(title="World unallocated lead")
    world["ids"].update(lead=lead.id, unallocated_lead=unallocated.id)
