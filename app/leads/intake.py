"""Leads that partners bring in from the customer view: created pending, for an admin to allocate."""

from flask import current_app, url_for

from app.audit import trail as audit
from app.comms.notifications import notify_admins
from app.extensions import db
from app.models import Category, ChannelPartner, Lead, LeadActivity

CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone", "contact_company")


def _admin_link(lead: Lead) -> str:
    if "admin.lead_detail" in current_app.view_functions:
        return url_for("admin.lead_detail", lead_id=lead.id)
    return url_for("admin.dashboard")


def submit_lead(partner: ChannelPartner, category: Category, data: dict, *, actor) -> Lead:
    """Create a lead originated by `partner` in `category`, pending allocation, and tell the admins."""
    lead = Lead(
        title=data["title"].strip(),
        description=(data.get("description") or "").strip(),
        category_id=category.id,
        originated_by=partner.id,
        created_by=actor.id,
        allocation_status="pending",
        kanban_stage="new",
        **{field: (data.get(field) or "").strip() or None for field in CONTACT_FIELDS},
    )
    db.session.add(lead)
    db.session.flush()
    db.session.add(LeadActivity(lead_id=lead.id, actor_id=actor.id, action="created", detail={"source": "showcase"}))
    audit.record(actor, "lead.submitted", lead, after={"title": lead.title, "category": category.name})
    notify_admins(
        "lead_submitted",
        company=partner.company_name,
        title=lead.title,
        reference=("lead", lead.id),
        link=_admin_link(lead),
    )
    db.session.flush()
    return lead
