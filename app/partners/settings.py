"""What an admin sets on a partner (SPEC §9.1): capabilities, tier, monthly lead quota, active or inactive.

An inactive partner keeps its login, leads and money but is offered no new leads (app.leads.queries
approved_partners, app.leads.pipeline allocate); a partner that does not work assigned leads neither.
"""

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.models import ChannelPartner, User
from app.models.partners import CAPABILITIES, TIERS

MAX_QUOTA = 1_000_000
CAPABILITY_FIELDS = tuple(column for column, _label in CAPABILITIES)
SETTINGS_FIELDS = ("tier", "monthly_lead_quota", *CAPABILITY_FIELDS, "status")
# The only status changes made here: the approval, rejection and suspension flows own the others.
ACTIVE_STATUSES = ("approved", "inactive")


class SettingsError(Refused):
    """A refused change; `field` names the form field the message belongs beside."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message, field)
        self.status = status


def update(partner: ChannelPartner, data: dict, *, actor: User) -> bool:
    """Set tier, quota, capabilities and (for an approved or inactive partner) active/inactive; audited.

    `data` holds the fields to set (absent ones are kept). Returns whether anything changed.
    """
    if actor is None or not actor.is_admin:
        raise SettingsError("Only an admin changes a partner's profile settings.", status=403)
    tier = data.get("tier", partner.tier)
    if tier not in TIERS:
        raise SettingsError("Choose a tier.", "tier")
    quota = data.get("monthly_lead_quota", partner.monthly_lead_quota)
    if quota is not None and not (isinstance(quota, int) and 0 <= quota <= MAX_QUOTA):
        raise SettingsError(
            f"Enter a whole number from 0 to {MAX_QUOTA:,}, or leave it empty for no limit.", "monthly_lead_quota"
        )
    status = data.get("status", partner.status)
    if status != partner.status and (status not in ACTIVE_STATUSES or partner.status not in ACTIVE_STATUSES):
        raise SettingsError("Only an approved partner can be made inactive, and only an inactive one active.", "status")
    before = audit.snapshot(partner, *SETTINGS_FIELDS)
    partner.tier, partner.monthly_lead_quota, partner.status = tier, quota, status
    for column in CAPABILITY_FIELDS:
        if column in data:
            setattr(partner, column, bool(data[column]))
    after = audit.snapshot(partner, *SETTINGS_FIELDS)
    if before == after:
        return False
    changed = {field: value for field, value in after.items() if before[field] != value}
    audit.record(
        actor,
        "partner.settings_changed",
        partner,
        {field: before[field] for field in changed},
        {**changed, "code": partner.code},
    )
    db.session.flush()
    return True
