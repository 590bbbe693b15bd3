"""/admin/commissions: transactions, the settlement-request queue, client payments, settlement to CPs
(with the CP's bank details and the bank slip), CP fee payments to review, and each transaction's audit trail.

Super admins may open the list and a transaction page read-only (its audit trail, SPEC issue 5.9).
"""

import uuid
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from wtforms import DateField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.access import ADMIN, STAFF, roles
from app.extensions import db
from app.files import storage
from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.loaders import load_payment, load_transaction
from app.models import AuditEvent, ChannelPartner, CommissionTransaction, CpPayment
from app.models.finance import TX_STATUSES
from app.money import commission_queries, fees, payments, receipts, settlements
from app.money import commissions as commission_service
from app.portals.admin import bp
from app.validators import query_page
from app.web import is_htmx_partial, render
from app.web.money import MoneyError, parse_money

PAGE_SIZE = 25
MAX_AMOUNT = Decimal("999999999999.99")


def not_in_future(form, field):
    problem = commission_service.paid_on_problem(field.data) if field.data else None
    if problem:
        raise ValidationError(problem)


def money_amount(form, field):
    """A non-negative amount in cents; rejects NaN, infinity, huge values and more than two decimals."""
    try:
        value = parse_money(field.data, maximum=MAX_AMOUNT)
    except MoneyError:
        value = None
    if value is None:
        raise ValidationError("Enter an amount such as 900.00.")
    field.amount = value


class ClientPaymentForm(IdempotentForm):
    paid_on = DateField("Client payment date", validators=[DataRequired("Enter the date."), not_in_future])
    reference = StringField("Reference (optional)", validators=[Optional(), Length(max=120)])
    attachment = DirectFileField("Attachment (optional, PDF or image)", kind="client_payment")


class PaidDirectlyForm(IdempotentForm):
    paid_on = DateField("Date the client paid the partner", validators=[DataRequired("Enter the date."), not_in_future])
    reference = StringField("Reference (optional)", validators=[Optional(), Length(max=120)])


class SettleForm(FlaskForm):
    bank_slip = DirectFileField("Bank slip (PDF or image)", kind="bank_slip")
    reference = StringField("Transfer reference (optional)", validators=[Optional(), Length(max=120)])
    confirmed_net = StringField("Net commission", validators=[DataRequired("Confirm the amount."), money_amount])
    idempotency_key = HiddenField(validators=[DataRequired("Reload the page and try again."), Length(min=16, max=64)])


class ReviewForm(IdempotentForm):
    note = TextAreaField("Note to the partner", validators=[Optional(), Length(max=2000)])


class EmptyForm(IdempotentForm):
    pass


def _forms(tx, **given) -> dict:
    forms = {
        "client_form": ClientPaymentForm(formdata=None),
        "direct_form": PaidDirectlyForm(formdata=None),
        "settle_form": SettleForm(
            formdata=None, idempotency_key=uuid.uuid4().hex, confirmed_net=f"{tx.net_commission:.2f}"
        ),
        "review_form": ReviewForm(formdata=None),
        "empty_form": EmptyForm(formdata=None),
    }
    forms.update(given)
    return forms


# --- the list ---------------------------------------------------------------------------------


def _filters() -> dict:
    status = request.args.get("status", "")
    cp = request.args.get("cp", "")
    try:
        cp_id = uuid.UUID(cp) if cp else None
    except ValueError:
        cp_id = None
    return {
        "status": status if status in TX_STATUSES else "",
        "cp": cp_id,
        "requested": request.args.get("requested") == "1",
    }


def _transactions(filters: dict, page: int):
    stmt = commission_queries.transactions_statement(filters["cp"], filters["status"], filters["requested"])
    stmt = stmt.order_by(CommissionTransaction.won_at.desc(), CommissionTransaction.id)
    return db.paginate(stmt, page=page, per_page=PAGE_SIZE, error_out=False)


def _partner_history(cp_id) -> dict | None:
    """Settled totals of one CP, shown above its filtered list (settlement history per CP)."""
    partner = db.session.get(ChannelPartner, cp_id) if cp_id else None
    if partner is None:
        return None
    paid = sa.and_(CommissionTransaction.cp_id == cp_id, CommissionTransaction.status == "paid")
    total, count = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(CommissionTransaction.net_commission), 0), sa.func.count()).where(paid)
    ).one()
    return {"partner": partner, "settled_total": total, "settled_count": count}


def _pending_receipts() -> list[CpPayment]:
    stmt = (
        sa.select(CpPayment)
        .where(CpPayment.status == "pending", CpPayment.payment_method == "bank_transfer")
        .order_by(CpPayment.created_at)
    )
    return list(db.session.scalars(stmt))


@bp.get("/commissions")
@roles(*STAFF)
def commissions():
    filters = _filters()
    pagination = _transactions(filters, query_page(request.args))
    partners = db.session.scalars(sa.select(ChannelPartner).order_by(ChannelPartner.company_name)).all()
    return render(
        "admin/commissions/page.html",
        partial="admin/commissions/partials/_table.html",
        pagination=pagination,
        filters=filters,
        partners=partners,
        history=_partner_history(filters["cp"]),
        queue=settlements.request_queue(),
        pending_receipts=_pending_receipts(),
        refunds_to_review=payments.payments_needing_review(),
        statuses=TX_STATUSES,
    )


# --- one transaction ----------------------------------------------------------------------------


def _audit_trail(tx) -> list[AuditEvent]:
    payment_ids = [str(p.id) for p in payments.payments_for(tx)]
    stmt = (
        sa.select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .where(
            sa.or_(
                sa.and_(AuditEvent.entity_type == "commission_transactions", AuditEvent.entity_id == str(tx.id)),
                sa.and_(AuditEvent.entity_type == "cp_payments", AuditEvent.entity_id.in_(payment_ids)),
            )
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    return list(db.session.scalars(stmt))


def _detail(tx, status: int = 200, message: str | None = None, error: str | None = None, **forms):
    return render(
        "admin/commissions/detail.html",
        partial="admin/commissions/partials/_workspace.html",
        status=status,
        tx=tx,
        lead=tx.lead,
        partner=tx.partner,
        current_rule=fees.rule_for_lead(tx.lead) if tx.lead is not None else None,
        tx_rule=commission_service.snapshot_rule(tx),
        cp_payments=payments.payments_for(tx),
        fee_owed=payments.fee_owed(tx),
        audit_events=_audit_trail(tx),
        can_act=current_user.role == ADMIN,
        message=message,
        error=error,
        **_forms(tx, **forms),
    )


@bp.get("/commissions/<tx_id>")
@roles(*STAFF)
def commission_detail(tx_id):
    return _detail(load_transaction(tx_id))


def _done(tx, message: str):
    db.session.commit()
    if not is_htmx_partial():
        flash(message, "success")
        return redirect(url_for("admin.commission_detail", tx_id=tx.id), code=303)
    return _detail(tx, message=message)


def _refused(tx, exc, **forms):
    tx_id = tx.id
    db.session.rollback()
    if db.session.get(CommissionTransaction, tx_id) is None:  # deleted with its lead while the admin acted
        return render("errors/generic.html", partial="errors/_message.html", status=409, title=str(exc))
    return _detail(load_transaction(tx_id), status=409, error=str(exc), **forms)


@bp.post("/commissions/<tx_id>/client-payment")
def commission_client_payment(tx_id):
    tx = load_transaction(tx_id)
    form = ClientPaymentForm()
    if not form.validate():
        return _detail(tx, status=422, client_form=form)
    try:
        commission_service.record_client_payment(
            tx, current_user, form.paid_on.data, form.reference.data, form.attachment.data
        )
    except storage.UploadRejected as exc:
        db.session.rollback()
        form.attachment.errors = [str(exc)]
        return _detail(load_transaction(tx_id), status=422, client_form=form)
    except commission_service.CommissionError as exc:
        return _refused(tx, exc, client_form=form)
    return _done(tx, "Client payment recorded: the commission is now due to the partner.")


@bp.post("/commissions/<tx_id>/paid-directly")
def commission_paid_directly(tx_id):
    tx = load_transaction(tx_id)
    form = PaidDirectlyForm()
    if not form.validate():
        return _detail(tx, status=422, direct_form=form)
    try:
        commission_service.flag_paid_directly(tx, current_user, form.paid_on.data, form.reference.data)
    except commission_service.CommissionError as exc:
        return _refused(tx, exc, direct_form=form)
    return _done(tx, "Flagged: the client paid the partner directly. The partner now owes the platform fee.")


@bp.post("/commissions/<tx_id>/reapply-rule")
def commission_reapply_rule(tx_id):
    tx = load_transaction(tx_id)
    form = EmptyForm()
    if not form.validate():
        return _detail(tx, status=422, error="Your form expired. Please reload the page and try again.")
    try:
        commission_service.reapply_current_rule(tx, current_user)
    except commission_service.CommissionError as exc:
        return _refused(tx, exc)
    return _done(tx, "The current fee rule was applied to this commission.")


@bp.post("/commissions/<tx_id>/settle")
def commission_settle(tx_id):
    tx = load_transaction(tx_id)
    form = SettleForm()
    if not form.validate():
        return _detail(tx, status=422, settle_form=form)
    try:
        settlements.settle_to_cp(
            tx,
            current_user,
            form.bank_slip.data,
            form.reference.data,
            form.idempotency_key.data,
            form.confirmed_net.amount,
        )
    except storage.UploadRejected as exc:
        db.session.rollback()
        form.bank_slip.errors = [str(exc)]
        return _detail(load_transaction(tx_id), status=422, settle_form=form)
    except settlements.SettlementRefused as exc:
        return _refused(tx, exc)
    return _done(tx, "Settled: the partner has been notified.")


@bp.post("/commissions/payments/<payment_id>/review")
def payment_review(payment_id):
    payment = load_payment(payment_id)
    tx = payment.transaction
    form = ReviewForm()
    decision = request.form.get("decision")
    approve = decision == "confirm"
    if not form.validate() or decision not in ("confirm", "reject"):
        return _detail(tx, status=422, review_form=form, error="Choose Confirm payment or Reject.")
    if not approve and not (form.note.data or "").strip():
        form.note.errors = ["Say why the receipt is rejected; the partner will read this note."]
        return _detail(tx, status=422, review_form=form, error=form.note.errors[0])
    try:
        payments.review_bank_transfer(payment, current_user, approve, form.note.data)
    except payments.PaymentError as exc:
        db.session.rollback()
        return _detail(load_transaction(tx.id), status=409, review_form=form, error=str(exc))
    return _done(tx, "Payment confirmed." if approve else "Payment rejected; the partner was told why.")


@bp.post("/commissions/payments/<payment_id>/refund")
def payment_refund(payment_id):
    """Retry the Stripe refund of a card payment that came in after it stopped counting (flagged for review)."""
    payment = load_payment(payment_id)
    tx = payment.transaction
    if not EmptyForm().validate():
        return _detail(tx, status=422, error="Your form expired. Please reload the page and try again.")
    try:
        payments.retry_refund(payment, current_user)
    except payments.PaymentError as exc:
        return _refused(tx, exc)
    return _done(tx, "Refunded through Stripe: the partner was told.")


# --- receipts -----------------------------------------------------------------------------------


@bp.get("/commissions/<tx_id>/receipt")
@roles(*STAFF)
def commission_receipt(tx_id):
    response = receipts.commission_receipt_download(load_transaction(tx_id))
    if response is None:
        abort(404)
    return response


@bp.get("/commissions/payments/<payment_id>/receipt")
@roles(*STAFF)
def payment_receipt(payment_id):
    response = receipts.payment_receipt_download(load_payment(payment_id))
    if response is None:
        abort(404)
    return response
