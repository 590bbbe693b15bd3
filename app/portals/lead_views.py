"""View helpers shared by the CP and admin lead pages: one action each, answered for where it came from.

An action posted from a list row answers with the row, from the slide-over with the panel (plus
the board columns it changed), from the kanban's Lost dialog with the columns; a plain form post
redirects back (or re-renders the page with the errors, 422).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.leads import pipeline
from app.leads import queries as lead_queries
from app.loaders import load_lead
from app.models import Lead
from app.money import commissions, fees
from app.portals.lead_board import (
    board_update,
    board_update_context,
    kanban_column,
    kanban_move,
    kanban_page,
    portal,
    scope,
)
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
from app.web.actions import run_action
from app.web.routes import add_route

DETAIL_TEMPLATES = {"cp": "cp/leads/detail.html", "admin": "admin/leads/detail.html"}


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


# --- actions --------------------------------------------------------------------------------------


def _lead_action(name: str, operation, invalid: str, success, keep_refused_form=False):
    """The view of one action on a lead (`name` is its form in FORM_CLASSES), answered where it came from.
    `operation(lead, form)` changes the lead; `success(lead, form)` says what happened."""

    def view(lead_id):
        lead = load_lead(lead_id, edit=True)
        form = FORM_CLASSES[name](prefix=prefix_for(lead))
        context = request.form.get("context", "")
        before = lead.kanban_stage

        def reply(outcome):
            if outcome.ok:
                return answer(lead, context, success(lead, form), stages={before, lead.kanban_stage})
            keep = outcome.status == 422 or keep_refused_form
            message = invalid if outcome.invalid else str(outcome.error)
            return answer(lead, context, message, outcome.status, bound={name: form} if keep else None, stages={before})

        return run_action(form, lambda f: operation(lead, f), reply)

    view.__name__ = f"{name}_action"
    return view


stage_action = _lead_action(
    "stage",
    lambda lead, f: pipeline.change_stage(lead, f.stage.data, current_user, f.version.data, f.lost_reason.data),
    "Choose a stage.",
    lambda lead, _f: f"Moved to {lead.stage_label}.",
)
amounts_action = _lead_action(
    "amounts",
    lambda lead, f: pipeline.set_amounts(
        lead, f.lead_value.data, f.commission_amount.data, current_user, f.version.data
    ),
    "Fix the amounts below.",
    lambda _lead, _f: "Amounts saved.",
)
override_action = _lead_action(
    "override",
    lambda lead, f: pipeline.set_fee_override(lead, *f.parsed, current_user, f.version.data),
    "Fix the fee override.",
    lambda _lead, f: "Fee override saved." if f.parsed[0] else "Fee override removed.",
)
note_action = _lead_action(
    "note",
    lambda lead, f: pipeline.add_note(lead, f.body.data, current_user),
    "Write the note first.",
    lambda _lead, _f: "Note added.",
    keep_refused_form=True,
)
evidence_action = _lead_action(
    "evidence",
    lambda lead, f: pipeline.add_evidence(lead, f.file.data, current_user, f.description.data),
    "Check the upload.",
    lambda _lead, _f: "Evidence uploaded.",
    keep_refused_form=True,
)


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
    ctx = {
        "prefix": prefix,
        "result": result,
        "rule": rule,
        "errors": errors,
        "live": True,
        "lead": lead,
        "p": portal(),
    }
    page = "_partials/leads/fee_preview_page.html"
    return render(page, partial="_partials/leads/_preview.html", status=422 if errors else 200, **ctx)


def row_details(lead_id):
    """The expanded part of a list row (amounts, evidence, notes), loaded when the row is opened."""
    lead = load_lead(lead_id)
    if not is_htmx_partial():
        return redirect(url_for(f"{user_portal()}.lead_detail", lead_id=lead.id))
    lead = lead_queries.load_details(lead)
    return render_template("_partials/leads/_row_details.html", lead=lead, **common_context())


def user_portal() -> str:
    return "cp" if current_user.is_cp else "superadmin" if current_user.is_super else "admin"


def list_page(portal_pages: "LeadPortal"):
    filters = lead_queries.LeadFilters.from_args(request.args)
    pagination = lead_queries.list_page(filters, query_page(request.args), assigned_to=scope())
    ctx = {"pagination": pagination, "filters": filters, **common_context(), **portal_pages.page_context()}
    return render(portal_pages.list_template, partial="_partials/leads/_table.html", **ctx)


def detail_page(portal_pages: "LeadPortal", lead_id):
    lead = load_lead(lead_id)
    context = "board-panel" if request.args.get("from") == "board" else "panel"
    ctx = panel_context(lead, from_board=context == "board-panel", **portal_pages.detail_context(lead))
    return render(portal_pages.detail_template, partial="_partials/leads/_panel.html", **ctx)


# --- the routes, declared once -------------------------------------------------------------------


def _no_context(*_args) -> dict:
    return {}


@dataclass(frozen=True)
class LeadPortal:
    """What differs between the portals that show leads: where the pages are and what they add to them.
    Without a board, a portal gets only the list (the super admin's read-only view)."""

    list_page: tuple[str, str, str]  # rule, endpoint, template
    board: tuple[str, str] | None = None  # rule, template of the kanban (and with it the lead pages and actions)
    detail_template: str | None = None
    page_context: Callable[[], dict] = field(default=_no_context)  # extra context of list and board pages
    detail_context: Callable[[Lead], dict] = field(default=_no_context)
    row_roles: tuple | None = None  # who may expand a list row here (the super admin's list uses the admins')

    @property
    def list_template(self) -> str:
        return self.list_page[2]

    @property
    def kanban_template(self) -> str:
        return self.board[1]


def register(bp, pages: LeadPortal) -> None:
    """Add the lead pages and actions to a portal's blueprint, under the same endpoint names in every portal."""
    add_route(bp, pages.list_page[0], pages.list_page[1], lambda: list_page(pages))
    if pages.board is None:
        return
    board = pages.board[0]
    add_route(bp, board, "leads_kanban", lambda: kanban_page(pages))
    add_route(bp, f"{board}/<stage>", "leads_kanban_move", lambda stage: kanban_move(stage, pages), methods=("POST",))
    add_route(bp, f"{board}/<stage>/more", "leads_kanban_column", kanban_column)
    add_route(bp, "/leads/<lead_id>/row", "lead_row_details", row_details, roles=pages.row_roles)
    add_route(bp, "/leads/<lead_id>", "lead_detail", lambda lead_id: detail_page(pages, lead_id))
    add_route(bp, "/leads/<lead_id>/fee-preview", "lead_fee_preview", fee_preview)
    for path, endpoint, action in (
        ("stage", "lead_stage", stage_action),
        ("amounts", "lead_amounts", amounts_action),
        ("notes", "lead_note_add", note_action),
        ("evidence", "lead_evidence_add", evidence_action),
    ):
        add_route(bp, f"/leads/<lead_id>/{path}", endpoint, action, methods=("POST",))
