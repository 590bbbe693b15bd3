"""The kanban board of the CP and admin lead pages: the page, a move (a drop in a column or a card's Move menu),
a column's next cards, and the small out-of-band answer to any change on the board (_board_update.html)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.leads import pipeline
from app.leads import queries as lead_queries
from app.loaders import parse_uuid
from app.models import Lead
from app.models.leads import STAGES
from app.portals.lead_cards import board_args
from app.portals.lead_forms import StageForm, prefix_for
from app.web import is_htmx_partial, render


def portal() -> str:
    return request.blueprint


def scope():
    """The partner whose assigned leads this board shows (None: every lead, for staff)."""
    return current_user.partner.id if current_user.is_cp else None


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


def kanban_page(portal_pages, status: int = 200, **extra):
    """The board. `extra` (a move's message, the Lost dialog) when it answers a move made without HTMX."""
    filters = lead_queries.LeadFilters.from_args(request.args if request.method == "GET" else request.form)
    columns = lead_queries.board(filters, assigned_to=scope())
    ctx = {"columns": columns, "filters": filters, "p": portal(), **portal_pages.page_context(), **extra}
    return render(portal_pages.kanban_template, status=status, **ctx)


def _parse_cards():
    cards = {}
    for raw in request.form.getlist("card")[: lead_queries.BOARD_LIMIT]:
        lead_id, _, version = raw.partition(":")
        cards[parse_uuid(lead_id)] = version
    return cards


def kanban_move(stage: str, portal_pages):
    """A column's form after SortableJS dropped a card in it, or a card's Move menu (which posts that card alone):
    move whichever card is new to this stage.

    The answer is small and out of band: the moved card on top of its new column, the two column heads
    and the message; a refused move puts the card back on top of its old column and says why.
    """
    if stage not in STAGES:
        abort(404)
    cards = _parse_cards()
    if not cards:
        return move_answer(portal_pages, None, "Nothing was moved.", 422)
    query = db.select(Lead).where(Lead.id.in_(cards), Lead.kanban_stage != stage)
    if scope() is not None:
        query = query.where(Lead.allocated_to == scope())
    lead = db.session.scalars(query.limit(1)).first()
    if lead is None:
        return move_answer(portal_pages, None, None, 200)
    old_stage = lead.kanban_stage
    if stage == "lost":
        form = StageForm(formdata=None, prefix=prefix_for(lead), data={"stage": "lost", "version": cards[lead.id]})
        message = "Say why the lead was lost to move it to Lost."
        return move_answer(portal_pages, lead, message, 200, {old_stage}, dialog_form=form)
    try:
        pipeline.change_stage(lead, stage, current_user, cards[lead.id])
    except pipeline.PipelineError as exc:
        db.session.rollback()
        # A refusal must still be swapped in (htmx swaps 409/422 only) so that the card goes back.
        status = exc.status if exc.status in (409, 422) else 409
        return move_answer(portal_pages, lead, f"“{lead.title}” was not moved: {exc}", status, {old_stage})
    commit_keeping_loaded()
    return move_answer(portal_pages, lead, f"Moved “{lead.title}” to {lead.stage_label}.", 200, {old_stage})


def move_answer(portal_pages, lead, message, status, stages=(), dialog_form=None):
    """A move's answer. For HTMX, out of band (board_update). Posted without HTMX (a Move button with scripts off):
    a move made goes back to the board, at the card; anything else is the board with the message (and the dialog)."""
    if is_htmx_partial():
        if lead is None:
            return board_message(message, status)
        return board_update(lead, stages, message, status, **({"dialog_form": dialog_form} if dialog_form else {}))
    if status < 400 and dialog_form is None:
        if message:
            flash(message, "success")
        filters = lead_queries.LeadFilters.from_args(request.form)
        anchor = f"#card-{lead.id}" if lead is not None else ""
        return redirect(url_for(f"{portal()}.leads_kanban", **board_args(filters)) + anchor)
    extra = {"message": message, "message_status": status, "dialog_form": dialog_form, "dialog_lead": lead}
    return kanban_page(portal_pages, status=status, **extra)


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
