"""Admin intake review (SPEC 9.2): the queue of `pending_review` leads, and approve / reject / mark bad, from a
queue row or from the lead's page. Admins only (the portal's default): the super admin reads, never reviews."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from app.leads import queries as lead_queries
from app.leads import review, review_queue
from app.loaders import load_lead
from app.models.leads import CHANNEL_LABELS, INTAKE_LABELS
from app.portals.admin import bp
from app.validators import query_page, query_uuid
from app.web import LazyCount, htmx_redirect, is_htmx_partial, render
from app.web.actions import run_action


class ApproveForm(FlaskForm):
    pass


class RejectForm(FlaskForm):
    reason = SelectField("Reason", choices=[("", "Choose a reason"), *review.REJECT_REASONS])
    note = TextAreaField("Note to the partner", validators=[Length(max=review.MAX_REASON)])


class MarkBadForm(FlaskForm):
    note = TextAreaField("What is wrong with the lead", validators=[Length(max=review.MAX_REASON)])


FORMS = {"approve": ApproveForm, "reject": RejectForm, "bad": MarkBadForm}


def _prefix(lead) -> str:
    return f"rv{lead.id.hex[:12]}"


def intake_forms(lead, bound: dict | None = None) -> dict:
    """The lead's review forms (unbound unless the user's submitted one is given), prefixed per lead."""
    bound = bound or {}
    return {name: bound.get(name) or cls(formdata=None, prefix=_prefix(lead)) for name, cls in FORMS.items()}


@bp.context_processor
def _review_helpers():
    return {
        "intake_forms": intake_forms,
        "review_count": LazyCount(review_queue.waiting_count),
        "intake_choices": tuple(INTAKE_LABELS.items()),  # the admin lead list's intake filter
    }


@bp.get("/review")
def review_queue_page():
    category_id, channel = query_uuid(request.args.get("category")), request.args.get("channel") or ""
    channel = channel if channel in CHANNEL_LABELS else ""
    pagination = review_queue.queue_page(query_page(request.args), category_id, channel or None)
    return render(
        "admin/review/page.html",
        partial="admin/review/partials/_table.html",
        pagination=pagination,
        category_id=category_id,
        channel=channel,
        categories=lead_queries.categories(),
        channels=CHANNEL_LABELS,
    )


def _answer(lead, name, context, message, status, form=None):
    """The row (queue), the intake panel (lead page) or, opened directly, a redirect or the lead's review page.
    A refused form comes back with the user's input and its errors beside the fields; a lead already reviewed
    by someone else (409) shows its new state with fresh forms."""
    bound = {name: form} if form is not None and status != 409 else None
    ctx = {"lead": lead, "forms": intake_forms(lead, bound), "message": message, "message_status": status}
    if not is_htmx_partial():
        if status < 400:
            flash(message, "success")
            target = request.form.get("next") or ""
            safe = target.startswith("/") and not target.startswith("//")
            return redirect(target if safe else url_for("admin.lead_detail", lead_id=lead.id), code=303)
        return render("admin/review/lead.html", status=status, **ctx)
    if context == "row":
        return render_template("admin/review/partials/_row.html", **ctx), status
    if status < 400:
        return htmx_redirect(url_for("admin.lead_detail", lead_id=lead.id))
    return render_template("_partials/leads/_intake.html", p="admin", **ctx), status


def _review_action(name, operation, success):
    def view(lead_id):
        lead = load_lead(lead_id)
        context = request.form.get("context", "")

        def reply(outcome):
            if outcome.ok:
                return _answer(lead, name, context, success(lead), 200)
            message = "Fix the form below." if outcome.invalid else str(outcome.error)
            return _answer(lead, name, context, message, outcome.status, outcome.form)

        return run_action(FORMS[name](prefix=_prefix(lead)), lambda form: operation(lead, form), reply)

    view.__name__ = f"lead_{name}"
    return view


def _approve(lead, _form):
    return review.approve(lead, current_user)


def _reject(lead, form):
    return review.reject(lead, current_user, form.reason.data or "", form.note.data or "")


def _mark_bad(lead, form):
    return review.mark_bad(lead, current_user, form.note.data or "")


bp.add_url_rule(
    "/leads/<lead_id>/approve",
    "lead_approve",
    _review_action("approve", _approve, lambda lead: f"“{lead.title}” approved: it can now be allocated."),
    methods=["POST"],
)
bp.add_url_rule(
    "/leads/<lead_id>/reject",
    "lead_reject",
    _review_action("reject", _reject, lambda lead: f"“{lead.title}” rejected; its originator was told why."),
    methods=["POST"],
)
bp.add_url_rule(
    "/leads/<lead_id>/mark-bad",
    "lead_mark_bad",
    _review_action("bad", _mark_bad, lambda lead: f"“{lead.title}” marked as a bad lead."),
    methods=["POST"],
)
