"""The customer view: a full-page showcase of categories and approved partner content; submit a lead."""

from flask import flash, redirect, url_for
from flask_login import current_user
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from app.access import WORKERS, members
from app.catalog import operations as catalog
from app.idempotency import IdempotentForm
from app.leads import intake
from app.loaders import load_category
from app.portals.cp import bp
from app.web import is_htmx_partial, render
from app.web.actions import run_action


class LeadForm(IdempotentForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    contact_name = StringField("Contact name", validators=[DataRequired(), Length(max=120)])
    contact_email = EmailField("Contact email", validators=[Optional(), Email(), Length(max=254)])
    contact_phone = StringField(
        "Contact phone",
        validators=[
            Optional(),
            Length(max=40),
            Regexp(r"^[0-9+()\-.\s]{5,40}$", message="Use digits, spaces, + ( ) -."),
        ],
    )
    contact_company = StringField("Contact company", validators=[Optional(), Length(max=200)])

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and not (self.contact_email.data or self.contact_phone.data):
            self.contact_email.errors.append("Give the contact's email or phone, so the lead can be followed up.")
            return False
        return ok


@bp.get("/categories")
def categories():
    return render(
        "cp/categories/page.html",
        categories=catalog.categories(active_only=True),
        published=catalog.published_content(),
    )


def _lead_form(category, form, status=200, error=None):
    return render(
        "cp/categories/lead.html",
        partial="cp/categories/partials/_lead_form.html",
        category=category,
        form=form,
        status=status,
        error=error,
    )


@bp.get("/categories/<category_id>/lead")
@members(*WORKERS)  # the form of something a viewer cannot do
def category_lead(category_id):
    return _lead_form(load_category(category_id, active_only=True), LeadForm(formdata=None))


@bp.post("/categories/<category_id>/lead")
def category_lead_submit(category_id):
    category = load_category(category_id, active_only=True)

    def reply(outcome):
        if not outcome.ok:
            error = str(outcome.error) if outcome.error else None
            return _lead_form(category, outcome.form, outcome.status, error=error)
        lead = outcome.result
        if is_htmx_partial():
            return render(
                "cp/categories/lead.html",
                partial="cp/categories/partials/_lead_done.html",
                category=category,
                lead=lead,
            )
        flash(f"Lead “{lead.title}” submitted. An admin will allocate it.", "success")
        return redirect(url_for("cp.leads_originated"))

    def submit(form):
        return intake.submit_lead(current_user.partner, category, form.data, actor=current_user)

    return run_action(LeadForm(), submit, reply)
