"""Settling platform fees in a batch (/admin/platform-fees/settle…): the running "N selected, $X" beside the
button as fees are ticked, the confirmation step that repeats it, and the settlement itself.

Every figure is the server's (app.money.fee_selection). The settlement runs only with the count and total the
admin confirmed, and settle_fees refuses a batch that no longer adds up to them."""

import uuid

from flask import flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.extensions import db
from app.files import storage
from app.files.fields import DirectFileField, UploadRequired
from app.money import fee_filters, fee_selection, fee_settlements
from app.portals.admin import bp
from app.web import render
from app.web.money import format_money

CONFIRM_FIRST = "Check the amount below, then confirm the settlement."


class SettleFeesForm(FlaskForm):
    idempotency_key = HiddenField(validators=[InputRequired(), Length(min=8, max=64)])
    confirm_count = HiddenField(validators=[InputRequired(CONFIRM_FIRST), Length(max=12)])
    confirm_total = HiddenField(validators=[InputRequired(CONFIRM_FIRST), Length(max=24)])
    bank_slip = DirectFileField(
        "Bank slip",
        kind="bank_slip",
        validators=[UploadRequired("Attach the bank slip of the transfer (PDF or image).")],
    )
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)])
    select_all = BooleanField("Settle every fee matching the filter that is ready to settle")


class Batch:
    """The batch a request describes: ticked ids (or "every fee matching the filter") and the filter."""

    def __init__(self, values):
        self.select_all = values.get("select_all") in ("y", "1", "on", "true")
        self.fee_filter = fee_filters.parse_filter(values)
        self.filter_args = fee_filters.filter_args(self.fee_filter)
        self.ids = fee_selection.parse_ids(values.getlist("transaction_ids"))

    @property
    def valid(self) -> bool:
        return self.ids is not None

    def _choice(self) -> dict:
        return {"fee_filter": self.fee_filter} if self.select_all else {"transaction_ids": self.ids or ()}

    def selection(self) -> fee_selection.Selection:
        return fee_selection.selection(**self._choice())

    def first_fees(self) -> list:
        return fee_selection.first_fees(**self._choice()) if self.valid else []


def _review(batch: Batch, form: SettleFeesForm | None = None, status: int = 200, error: str | None = None):
    chosen = batch.selection() if batch.valid else fee_selection.Selection(0, fee_selection.ZERO)
    if form is None:
        form = SettleFeesForm(formdata=None, select_all=batch.select_all)
        form.idempotency_key.data = uuid.uuid4().hex
    # The figures shown are the ones confirmed: always this page's, never what a stale form carried.
    form.confirm_count.data, form.confirm_total.data = str(chosen.count), str(chosen.total)
    if not batch.valid:
        error = error or "One of the chosen fees is not valid; go back to the list and choose again."
    return render(
        "admin/platform_fees/review.html",
        status=status,
        batch=batch,
        chosen=chosen,
        fees=batch.first_fees() if chosen.count else [],
        settle_form=form,
        settle_error=error,
    )


@bp.get("/platform-fees/selection")
def platform_fees_selection():
    """The running summary beside the settle button, recomputed as boxes are ticked (HTMX); a page of its own
    without HTMX."""
    batch = Batch(request.args)
    chosen = batch.selection() if batch.valid else None
    return render(
        "admin/platform_fees/selection.html",
        partial="admin/platform_fees/partials/_selection.html",
        chosen=chosen,
        batch=batch,
    )


@bp.get("/platform-fees/settle/review")
def platform_fees_review():
    """The confirmation step: "You are about to settle $X for N fees", the bank slip and the confirm button."""
    batch = Batch(request.args)
    return _review(batch, status=200 if batch.valid else 422)


@bp.post("/platform-fees/settle")
def platform_fees_settle():
    form, batch = SettleFeesForm(), Batch(request.form)
    if not batch.valid:
        return _review(batch, form, status=422)
    if not batch.select_all and not batch.ids:
        return _review(batch, form, status=422, error="Choose at least one outstanding fee to settle.")
    if not form.validate():
        return _review(batch, form, status=422, error=CONFIRM_FIRST if _unconfirmed(form) else None)
    try:
        confirmed = fee_selection.confirmed(form.confirm_count.data, form.confirm_total.data)
        settlement, created = fee_settlements.settle_fees(
            current_user,
            idempotency_key=form.idempotency_key.data,
            slip=form.bank_slip.data,
            note=form.note.data,
            transaction_ids=None if batch.select_all else batch.ids,
            fee_filter=batch.fee_filter if batch.select_all else None,
            confirmed=(confirmed.count, confirmed.total),
        )
    except storage.UploadRejected as exc:
        db.session.rollback()
        form.bank_slip.errors = [str(exc)]
        return _review(batch, form, status=422)
    except (fee_settlements.NothingToSettle, ValueError) as exc:
        db.session.rollback()
        return _review(batch, form, status=422, error=str(exc))
    except fee_settlements.SettlementRefused as exc:
        db.session.rollback()
        return _review(batch, status=409, error=str(exc))
    db.session.commit()
    if created:
        flash(f"Settled {settlement_summary(settlement)} to the super admin.", "success")
    else:
        flash("That settlement had already been recorded; it was not settled twice.", "info")
    return redirect(url_for("admin.platform_fees_settlement", settlement_id=settlement.id))


def _unconfirmed(form: SettleFeesForm) -> bool:
    return bool(form.confirm_count.errors or form.confirm_total.errors)


def settlement_summary(settlement) -> str:
    words = "lead" if settlement.lead_count == 1 else "leads"
    return f"{format_money(settlement.amount)} platform fee covering {settlement.lead_count} {words}"
