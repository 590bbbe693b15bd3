"""A new partner's onboarding checklist (seed 000 step 4, issue #20 item 4): each step ticks itself from the data.

Steps: company profile complete (phone and address), logo, bank details, first lead, first training module.
Only the training step reads anything beyond what the dashboard has already loaded (the partner row and its
all-time rollup figures), and "first lead" asks the leads table only while the rollup shows none.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from app.enablement.training import has_completed_any_module
from app.extensions import db
from app.models import Lead


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    hint: str
    endpoint: str  # the page where the step is done
    anchor: str = ""
    done: bool = False


def has_a_lead(partner, all_time_rows: int) -> bool:
    """True once the partner has a lead of its own (its rollup rows) or has submitted one (originated)."""
    if all_time_rows:
        return True
    return db.session.scalar(sa.select(sa.exists().where(Lead.originated_by == partner.id))) or False


def checklist(partner, user, all_time_rows: int) -> list[Step]:
    """The onboarding steps for `user` of `partner`, each with done set from the data."""
    steps = [
        Step(
            "profile",
            "Complete your company profile",
            "Add a contact phone and your address.",
            "cp.profile",
            "company-card",
            bool(partner.contact_phone and partner.address),
        ),
        Step(
            "logo",
            "Upload your logo",
            "It appears on your profile and co-branded material.",
            "cp.profile",
            "logo-card",
            partner.logo_file_id is not None,
        ),
        Step(
            "bank",
            "Add your bank details",
            "Needed before any commission can be settled to you.",
            "cp.profile",
            "bank",
            partner.has_bank_details,
        ),
        Step(
            "lead",
            "Get your first lead",
            "Submit a lead, or work one allocated to you.",
            "cp.categories",
            "",
            has_a_lead(partner, all_time_rows),
        ),
    ]
    steps.append(
        Step(
            "training",
            "Finish your first training module",
            "Start with the first module.",
            "cp.training",
            "",
            has_completed_any_module(user),
        )
    )
    return steps
