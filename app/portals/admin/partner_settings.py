"""The admin's partner page, two more forms: the KYC review of the bank details, and the partner's settings
(tier, monthly lead quota, capabilities, active or inactive). Each answers with its card (HTMX) or the page."""

from flask import flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional

from app.loaders import load_partner
from app.models.partners import CAPABILITIES, TIERS
from app.partners import kyc, profiles, settings
from app.portals.admin import bp
from app.portals.admin.forms import ReviewNoteForm
from app.web import is_htmx_partial, render
from app.web.actions import run_action

VERDICTS = ("verified", "rejected")


class KycReviewForm(FlaskForm):
    verdict = StringField(
        "Decision",
        validators=[InputRequired("Choose verify or reject."), AnyOf(VERDICTS, message="Choose verify or reject.")],
    )
    note = TextAreaField("Note to the partner (required to reject)", validators=[Length(max=kyc.MAX_NOTE)])


class PartnerSettingsForm(FlaskForm):
    tier = SelectField("Tier", choices=[SelectChoice(tier, tier.capitalize()) for tier in TIERS])
    monthly_lead_quota = IntegerField(
        "Monthly lead quota",
        validators=[
            Optional(),
            NumberRange(0, settings.MAX_QUOTA, message=f"Enter a whole number from 0 to {settings.MAX_QUOTA:,}."),
        ],
    )
    cap_originates = BooleanField(dict(CAPABILITIES)["cap_originates"])
    cap_works = BooleanField(dict(CAPABILITIES)["cap_works"])
    cap_buys = BooleanField(dict(CAPABILITIES)["cap_buys"])
    cap_supplies = BooleanField(dict(CAPABILITIES)["cap_supplies"])
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("approved", "Active: offered new leads"),
            SelectChoice("inactive", "Inactive: no new leads"),
        ],
    )

    def settings_data(self) -> dict:
        names = ("tier", "monthly_lead_quota", *settings.CAPABILITY_FIELDS, *(("status",) if "status" in self else ()))
        return {name: self[name].data for name in names}


def settings_form(partner, **kwargs) -> PartnerSettingsForm:
    """The settings form; its status choice only for a partner that is approved or inactive."""
    form = PartnerSettingsForm(**kwargs)
    if partner.status not in settings.ACTIVE_STATUSES:
        del form.status
    return form


def detail_forms(partner, **forms) -> dict:
    """The forms the admin's partner page shows, empty unless given (a form with its errors)."""
    forms.setdefault("kyc_form", KycReviewForm(formdata=None))
    forms.setdefault("settings_form", settings_form(partner, obj=partner, formdata=None))
    return forms


def _answer(partner, partial: str, outcome, success: str, **forms):
    if outcome.ok and not is_htmx_partial():
        flash(success, "success")
        return redirect(url_for("admin.partner_detail", partner_id=partner.id))
    # A refusal about a field is shown beside it; any other (e.g. already reviewed) at the top of the card.
    refusal = outcome.error if outcome.error is not None and not outcome.error.field else None
    return render(
        "admin/partners/detail.html",
        partial=partial,
        status=outcome.status,
        partner=partner,
        profile=profiles.profile_view(partner, current_user),
        note_form=ReviewNoteForm(),
        card_message=success if outcome.ok else (str(refusal) if refusal else None),
        card_status=outcome.status,
        **detail_forms(partner, **({} if outcome.ok else forms)),
    )


@bp.post("/partners/<partner_id>/kyc")
def partner_kyc_review(partner_id):
    partner = load_partner(partner_id)
    form = KycReviewForm()
    return run_action(
        form,
        lambda f: kyc.review(partner, current_user, f.verdict.data, f.note.data),
        lambda outcome: _answer(
            partner,
            "admin/partners/partials/_kyc.html",
            outcome,
            f"Bank details {form.verdict.data}; the partner was told.",
            kyc_form=form,
        ),
    )


@bp.post("/partners/<partner_id>/settings")
def partner_settings(partner_id):
    partner = load_partner(partner_id)
    form = settings_form(partner)
    return run_action(
        form,
        lambda f: settings.update(partner, f.settings_data(), actor=current_user),
        lambda outcome: _answer(
            partner,
            "admin/partners/partials/_settings.html",
            outcome,
            "Partner settings saved." if outcome.result is not False else "Nothing changed.",
            settings_form=form,
        ),
    )
