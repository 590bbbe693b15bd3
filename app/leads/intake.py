"""Leads that partners bring in from the customer view: created pending, for an admin to allocate."""

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, url_for

from app.audit import trail as audit
from app.comms.notifications import notify_admins
from app.errors import Refused
from app.extensions import db
from app.models import Category, ChannelPartner, Lead, LeadActivity
from app.models.base import utcnow

CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone", "contact_company")


def _admin_link(lead: Lead) -> str:
    if "admin.lead_detail" in current_app.view_functions:
        return url_for("admin.lead_detail", lead_id=lead.id)
    return url_for("admin.dashboard")


class IntakeRefused(Refused):
    """A submission the partner may not make now (capability, quota); the message says why."""


def check_may_originate(partner: ChannelPartner) -> None:
    """SPEC 9.1: a partner originates only with that capability, and not past its monthly quota (this UTC month).
    The partner's row is locked, so two submissions at once cannot both take the last place of the quota."""
    if not partner.cap_originates:
        raise IntakeRefused("Your company is not set up to submit leads: ask an admin to turn on “originates”.")
    if partner.monthly_lead_quota is None:
        return
    db.session.execute(sa.select(ChannelPartner.id).where(ChannelPartner.id == partner.id).with_for_update())
    now = utcnow()
    month_start = datetime(now.year, now.month, 1)
    used = db.session.scalar(
        sa.select(sa.func.count()).where(Lead.originated_by == partner.id, Lead.created_at >= month_start)
    )
    if used >= partner.monthly_lead_quota:
        raise IntakeRefused(
            f"Your company has used its quota of {partner.monthly_lead_quota} leads this month; "
            "it renews on the 1st, or an admin can raise it."
        )


def submit_lead(partner: ChannelPartner, category: Category, data: dict, *, actor) -> Lead:
    """Create a lead originated by `partner` in `category`, pending allocation, and tell the admins."""
    check_may_originate(partner)
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
