"""View helpers shared by the CP and admin lead pages: one action each, answered for where it came from.

An action posted from a list row answers with the row, from the slide-over with the panel (plus
the board columns it changed), from the kanban's Lost dialog with the columns; a plain form post
redirects back (or re-renders the page with the errors, 422).
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.leads import pipeline
from app.leads import queries as lead_queries
from app.loaders import load_lead, parse_uuid
from app.models import Lead
from app.models.leads import STAGES
from app.money import commissions, fees
from app.portals.lead_forms import (
    AmountsForm,
    EvidenceForm,
    NoteForm,
    OverrideForm,
    StageForm,
    prefix_for,
)
from app.validators import query_page
from app.web import is_htmx_partial, render

DETAIL_TEMPLATES = {"cp": "cp/leads/detail.html", "admin": "admin/leads/detail.html"}


def portal() -> str:
    return request.blueprint


def scope():
    """The partner whose assigned leads this board shows (None: every lead, for staff)."""
    return current_user.partner.id if current_user.is_cp else None


FORM_CLASSES = {
    "stage": StageForm,
    "amounts": AmountsForm,
    "override": OverrideForm,
    "note": NoteForm,
    "evidence": EvidenceForm,
}


class LeadForms:
    """The lead's forms, each built (filled from the lead) only when a template asks for it: a list row
    needs just its stage form, so a page of rows does not build five forms per row."""

    def __init__(self, lead, bound: dict | None = None):
        self._lead, self._bound = lead, bound or {}

    def __getattr__(self, name):
        if name not in FORM_CLASSES:
            raise AttributeError(name)
        form = self._bound.get(name) or self._build(name)
        setattr(self, name, form)
        return form

    def is_bound(self, name) -> bool:
        """True when the user's submitted form (with its errors) is shown rather than one filled from the lead."""
        return name in self._bound

    def _build(self, name):
        lead = self._lead
        version = lead.version
        data = {
            "stage": lambda: {"stage": lead.kanban_stage, "version": version, "lost_reason": lead.lost_reason},
            "amounts": lambda: {
                "lead_value": lead.lead_value,
                "commission_amount": lead.commission_amount,
                "version": version,
            },
            "override": lambda: {
                "override_type": lead.fee_override_type or "",
                "override_value": lead.fee_override_value,
                "version": version,
            },
        }.get(name, dict)()
        form = FORM_CLASSES[name](formdata=None, prefix=prefix_for(lead), data=data)
        if name == "override" and form.override_value.data is not None:
            form.override_value.data = f"{fees.to_cents(lead.fee_override_value)}"
        return form


def forms_for(lead, bound: dict | None = None) -> LeadForms:
    """The lead's forms, filled from the lead unless a submitted (bound) form is given."""
    return LeadForms(lead, bound)


def common_context(bound_lead=None, bound=None) -> dict:
    def _forms(lead):
        return forms_for(lead, bound if bound_lead is not None and lead.id == bound_lead.id else None)

    user = current_user._get_current_object()  # once, not through the proxy for every row
    return {"forms_for": _forms, "may_edit": lambda lead: pipeline.may_edit(user, lead), "p": portal()}


def fee_context(lead) -> dict:
    tx = commissions.transaction_for(lead)
    rule = commissions.effective_rule(lead, tx if tx is not None and tx.status != "void" else None)
    return {
        "rule": rule,
        "fee": fees.preview(lead.commission_amount, rule),
        "frozen": tx is not None and tx.status == "paid",
        "tx": tx,
    }


def panel_context(lead, bound=None, **extra) -> dict:
    return {"lead": lead, **common_context(lead, bound), **fee_context(lead), **extra}


def _safe_next() -> str | None:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else None


def answer(lead, context: str, message: str, status: int = 200, bound=None, stages=()):
    """Answer an action on `lead` for the part of the page it came from."""
    if not is_htmx_partial():
        if status < 400:
            flash(message, "success")
            return redirect(_safe_next() or url_for(f"{portal()}.lead_detail", lead_id=lead.id))
        if lead is None:
            abort(status)
        ctx = panel_context(lead, bound, message=message, message_status=status)
        return render(DETAIL_TEMPLATES[portal()], status=status, **ctx)
    if context == "row":
        row = lead_queries.LeadRow.from_lead(lead)
        ctx = {**common_context(lead, bound), "message": message, "message_status": status, "open": True}
        return render_template("_partials/leads/_row.html", lead=row, full_lead=lead, **ctx), status
    if context == "board":
        if status == 422:
            return render_template("_partials/leads/_dialog.html", lead=lead, form=bound["stage"], p=portal()), 422
        return board_update(lead, stages, message, status, close_dialog=True)
    ctx = panel_context(lead, bound, message=message, message_status=status, from_board=context == "board-panel")
    if context == "board-panel" and status < 400:
        ctx["board"] = board_update_context(lead, stages)
    return render_template("_partials/leads/_panel.html", **ctx), status


def board_update_context(lead, stages) -> dict:
    """What _board_update.html needs: the lead's card as it is now and the heads of the columns that changed."""
    changed = [stage for stage in STAGES if stage in {*stages, lead.kanban_stage}]
    totals = lead_queries.column_totals(lead_queries.LeadFilters.from_args(request.form), scope(), changed)
    heads = [lead_queries.Column(stage, count=totals.get(stage, (0, 0))[0], total=totals.get(stage, (0, 0))[1])
             for stage in changed]  # fmt: skip
    card = lead_queries.Card.from_lead(lead, staff=scope() is None)
    return {"lead": lead, "card": card, "heads": heads, "p": portal()}


def board_update(lead, stages, message, status, **extra):
    """The small out-of-band answer to a change on the board (see _board_update.html)."""
    ctx = {**board_update_context(lead, stages), "message": message, "message_status": status, **extra}
    return render_template("_partials/leads/_board_update.html", **ctx), status


def _rollback_with_error(form, exc: pipeline.PipelineError) -> None:
    db.session.rollback()
    if form is not None and exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, str(exc)]


# --- actions --------------------------------------------------------------------------------------


def stage_action(lead_id):
    lead = load_lead(lead_id, edit=True)
    form = StageForm(prefix=prefix_for(lead))
    context = request.form.get("context", "")
    if not form.validate():
        return answer(lead, context, "Choose a stage.", 422, bound={"stage": form})
    old_stage = lead.kanban_stage
    try:
        pipeline.change_stage(lead, form.stage.data, current_user, form.version.data, form.lost_reason.data)
    except pipeline.PipelineError as exc:
        _rollback_with_error(form, exc)
        keep = {"stage": form} if exc.status == 422 else None
        return answer(lead, context, str(exc), exc.status, bound=keep, stages={old_stage})
    db.session.commit()
    return answer(lead, context, f"Moved to {lead.stage_label}.", stages={old_stage, lead.kanban_stage})


def amounts_action(lead_id):
    lead = load_lead(lead_id, edit=True)
    form = AmountsForm(prefix=prefix_for(lead))
    context = request.form.get("context", "")
    if not form.validate():
        return answer(lead, context, "Fix the amounts below.", 422, bound={"amounts": form})
    try:
        pipeline.set_amounts(lead, form.lead_value.data, form.commission_amount.data, current_user, form.version.data)
    except pipeline.PipelineError as exc:
        _rollback_with_error(form, exc)
        return answer(lead, context, str(exc), exc.status, bound={"amounts": form} if exc.status == 422 else None)
    db.session.commit()
    return answer(lead, context, "Amounts saved.")


def override_action(lead_id):
    lead = load_lead(lead_id, edit=True)
    form = OverrideForm(prefix=prefix_for(lead))
    context = request.form.get("context", "")
    if not form.validate():
        return answer(lead, context, "Fix the fee override.", 422, bound={"override": form})
    override_type, override_value = form.parsed
    try:
        pipeline.set_fee_override(lead, override_type, override_value, current_user, form.version.data)
    except pipeline.PipelineError as exc:
        _rollback_with_error(form, exc)
        return answer(lead, context, str(exc), exc.status, bound={"override": form} if exc.status == 422 else None)
    db.session.commit()
    return answer(lead, context, "Fee override saved." if override_type else "Fee override removed.")


def note_action(lead_id):
    lead = load_lead(lead_id, edit=True)
    form = NoteForm(prefix=prefix_for(lead))
    context = request.form.get("context", "")
    if not form.validate():
        return answer(lead, context, "Write the note first.", 422, bound={"note": form})
    try:
        pipeline.add_note(lead, form.body.data, current_user)
    except pipeline.PipelineError as exc:
        _rollback_with_error(form, exc)
        return answer(lead, context, str(exc), exc.status, bound={"note": form})
    db.session.commit()
    return answer(lead, context, "Note added.")


def evidence_action(lead_id):
    lead = load_lead(lead_id, edit=True)
    form = EvidenceForm(prefix=prefix_for(lead))
    context = request.form.get("context", "")
    if not form.validate():
        return answer(lead, context, "Check the upload.", 422, bound={"evidence": form})
    try:
        pipeline.add_evidence(lead, form.file.data, current_user, form.description.data)
    except pipeline.PipelineError as exc:
        _rollback_with_error(form, exc)
        return answer(lead, context, str(exc), exc.status, bound={"evidence": form})
    db.session.commit()
    return answer(lead, context, "Evidence uploaded.")


def fee_preview(lead_id):
    """Fee and net for what is typed now, naming the rule; nothing is saved. Bad input → 422 beside the field."""
    lead = load_lead(lead_id, edit=True)
    prefix = prefix_for(lead)
    errors, commission = {}, None
    try:
        commission = pipeline.parse_money(request.args.get(f"{prefix}-commission_amount"), "commission_amount")
    except pipeline.PipelineError as exc:
        errors["commission_amount"] = str(exc)
    try:
        pipeline.parse_money(request.args.get(f"{prefix}-lead_value"), "lead_value")
    except pipeline.PipelineError as exc:
        errors["lead_value"] = str(exc)
    rule = commissions.effective_rule(lead)
    if current_user.is_admin and f"{prefix}-override_type" in request.args:
        try:
            override = pipeline.parse_override(
                request.args.get(f"{prefix}-override_type"), request.args.get(f"{prefix}-override_value")
            )
            rule = fees.rule_for(*override)
        except pipeline.PipelineError as exc:
            errors["override_value"] = str(exc)
    if f"{prefix}-commission_amount" not in request.args:
        commission = lead.commission_amount
    result = None if errors else fees.preview(commission, rule)
    ctx = {"prefix": prefix, "result": result, "rule": rule, "errors": errors, "live": True}
    return render_template("_partials/leads/_preview.html", **ctx), 422 if errors else 200


# --- kanban ---------------------------------------------------------------------------------------


def _parse_cards():
    cards = {}
    for raw in request.form.getlist("card")[: lead_queries.BOARD_LIMIT]:
        lead_id, _, version = raw.partition(":")
        cards[parse_uuid(lead_id)] = version
    return cards


def kanban_move(stage: str):
    """A column's form after SortableJS dropped a card in it: move whichever card is new to this stage.

    The answer is small and out of band: the moved card on top of its new column, the two column heads
    and the message; a refused move puts the card back on top of its old column and says why.
    """
    if stage not in STAGES:
        abort(404)
    cards = _parse_cards()
    if not cards:
        return board_message("Nothing was moved.", 422)
    query = db.select(Lead).where(Lead.id.in_(cards), Lead.kanban_stage != stage)
    if scope() is not None:
        query = query.where(Lead.allocated_to == scope())
    lead = db.session.scalars(query.limit(1)).first()
    if lead is None:
        return board_message(None, 200)
    old_stage = lead.kanban_stage
    if stage == "lost":
        form = StageForm(formdata=None, prefix=prefix_for(lead), data={"stage": "lost", "version": cards[lead.id]})
        message = "Say why the lead was lost to move it to Lost."
        return board_update(lead, {old_stage}, message, 200, dialog_form=form)
    try:
        pipeline.change_stage(lead, stage, current_user, cards[lead.id])
    except pipeline.PipelineError as exc:
        db.session.rollback()
        # A refusal must still be swapped in (htmx swaps 409/422 only) so that the card goes back.
        status = exc.status if exc.status in (409, 422) else 409
        return board_update(lead, {old_stage}, f"“{lead.title}” was not moved: {exc}", status)
    commit_keeping_loaded()
    return board_update(lead, {old_stage}, f"“{lead.title}” moved to {lead.stage_label}.", 200)


def commit_keeping_loaded() -> None:
    """Commit at once (the row locks are held no longer than the change) without expiring what is
    loaded: the answer is rendered from the lead and user as just written, not read back again."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def board_message(message, status):
    return render_template("_partials/leads/_board_message.html", message=message, message_status=status), status


def kanban_column(stage: str):
    """The next page of one column's cards ("Show more"), with the button for the page after."""
    if stage not in STAGES:
        abort(404)
    if not is_htmx_partial():
        return redirect(url_for(f"{portal()}.leads_kanban"))
    filters = lead_queries.LeadFilters.from_args(request.args)
    cards, more = lead_queries.column_page(filters, stage, request.args.get("after", ""), assigned_to=scope())
    column = lead_queries.Column(stage, cards=cards, more=more)
    return render_template("_partials/leads/_column_page.html", column=column, filters=filters, p=portal())


def row_details(lead_id):
    """The expanded part of a list row (amounts, evidence, notes), loaded when the row is opened."""
    lead = load_lead(lead_id)
    if not is_htmx_partial():
        return redirect(url_for(f"{user_portal()}.lead_detail", lead_id=lead.id))
    lead = lead_queries.load_details(lead)
    return render_template("_partials/leads/_row_details.html", lead=lead, **common_context())


def user_portal() -> str:
    return "cp" if current_user.is_cp else "superadmin" if current_user.is_super else "admin"


def kanban_page(template: str, **extra):
    filters = lead_queries.LeadFilters.from_args(request.args)
    columns = lead_queries.board(filters, assigned_to=scope())
    return render(template, columns=columns, filters=filters, p=portal(), **extra)


def list_page(template: str, assigned_to=None, **extra):
    filters = lead_queries.LeadFilters.from_args(request.args)
    pagination = lead_queries.list_page(filters, query_page(request.args), assigned_to=assigned_to)
    ctx = {"pagination": pagination, "filters": filters, **common_context(), **extra}
    return render(template, partial="_partials/leads/_table.html", **ctx)


def detail_page(lead_id, template: str, **extra):
    lead = load_lead(lead_id)
    context = "board-panel" if request.args.get("from") == "board" else "panel"
    ctx = panel_context(lead, from_board=context == "board-panel", **extra)
    return render(template, partial="_partials/leads/_panel.html", **ctx)
