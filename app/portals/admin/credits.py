"""Admin origination credits (SPEC 9.2, seed 001): every partner's credits, pending approval first; approve or
reject one (with a reason) from its row. Admins only."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.loaders import get_or_404
from app.models import OriginationCredit
from app.money import credit_queries
from app.money import credits as credit_ops
from app.portals.admin import bp
from app.validators import query_page
from app.web import is_htmx_partial, render
from app.web.actions import run_action


class DecideForm(FlaskForm):
    decision = RadioField(
        "Decision", choices=[("approve", "Approve"), ("reject", "Reject")], validators=[DataRequired()]
    )
    reason = TextAreaField("Reason (required to reject)", validators=[Length(max=credit_ops.MAX_REASON)])

    def validate_reason(self, field):
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise ValidationError("Say why the credit is rejected.")


def decide_form(credit, formdata=None) -> DecideForm:
    prefix = f"cr{credit.id.hex[:12]}"
    return DecideForm(prefix=prefix) if formdata is not None else DecideForm(formdata=None, prefix=prefix)


@bp.context_processor
def _credit_helpers():
    return {"credit_form": decide_form, "credit_labels": credit_queries.STATUS_LABELS}


@bp.get("/credits")
def credits():
    status = request.args.get("status") or ""
    status = status if status in credit_queries.STATUS_LABELS else ""
    return render(
        "admin/credits/page.html",
        partial="admin/credits/partials/_table.html",
        pagination=credit_queries.credits_page(query_page(request.args), status=status or None),
        totals=credit_queries.totals(),
        status_filter=status,
    )


@bp.post("/credits/<credit_id>/decide")
def credit_decide(credit_id):
    credit = get_or_404(OriginationCredit, credit_id)

    def decide(form):
        return credit_ops.decide(credit, current_user, form.decision.data == "approve", form.reason.data or "")

    def reply(outcome):
        if outcome.ok:
            message = f"Credit {credit.status.replace('_', ' ')}; the partner was told."
        else:
            message = "Choose approve or reject." if outcome.invalid else str(outcome.error)
        if not is_htmx_partial() and outcome.ok:
            flash(message, "success")
            return redirect(url_for("admin.credits"), code=303)
        keep = not outcome.ok and (outcome.error is None or outcome.error.field)
        form = outcome.form if keep else decide_form(credit)
        ctx = {"credit": credit, "form": form, "message": message, "message_status": outcome.status}
        if is_htmx_partial():
            return render_template("admin/credits/partials/_row.html", **ctx), outcome.status
        return render("admin/credits/decide.html", status=outcome.status, **ctx)

    return run_action(decide_form(credit, formdata=request.form), decide, reply)
