"""The audit log page, browsed and filtered: declared once, added to the admin and super admin portals."""

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app.audit import queries as audit_queries
from app.validators import DateWithin, query_page
from app.web import render
from app.web.routes import add_route


class AuditFilterForm(FlaskForm):
    """A GET form: filters only read, so it carries no CSRF token."""

    class Meta:
        csrf = False

    actor = StringField("Actor (name or email)", validators=[Optional(), Length(max=120)])
    action = SelectField("Action", validators=[Optional()], validate_choice=True)
    entity_type = SelectField("Entity type", validators=[Optional()], validate_choice=True)
    entity_id = StringField("Entity id", validators=[Optional(), Length(max=64)])
    date_from = DateField("From", validators=[Optional(), DateWithin()])
    date_to = DateField("To", validators=[Optional(), DateWithin()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("“To” must be on or after “From”.")


def _filter_form() -> AuditFilterForm:
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = [("", "Any action")] + [(a, a) for a in audit_queries.actions()]
    form.entity_type.choices = [("", "Any type")] + [(t, t.replace("_", " ")) for t in audit_queries.entity_types()]
    return form


def audit_page(template: str):
    """Validate the filters, search, render the page (or only the table for HTMX)."""
    form = _filter_form()
    valid = form.validate()
    pagination = None  # invalid filters: say what to fix rather than show events that do not match them
    if valid:
        filters = audit_queries.AuditFilters(
            actor=(form.actor.data or "").strip(),
            action=form.action.data or "",
            entity_type=form.entity_type.data or "",
            entity_id=(form.entity_id.data or "").strip(),
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
        pagination = audit_queries.search(filters, page=query_page(request.args))
    return render(
        template,
        partial="_partials/audit/_results.html",
        form=form,
        pagination=pagination,
        diff=audit_queries.diff,
        endpoint=f"{request.blueprint}.audit_log",
        status=200 if valid else 422,
    )


def register(bp, template: str) -> None:
    add_route(bp, "/audit", "audit_log", lambda: audit_page(template))
