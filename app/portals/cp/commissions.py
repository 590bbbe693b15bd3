"""/cp/commissions: the CP's own commission analysis (totals, per-lead breakdown), settlement history,
received payments, settlement requests and paying the platform fee it owes (card or bank transfer)."""

from decimal import Decimal

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import OWNER, members
from app.extensions import db
from app.files import storage
from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.loaders import load_payment, load_transaction
from app.models import CommissionTransaction, CpPayment
from app.money import payments, receipts, settlements
from app.portals.cp import bp
from app.validators import query_page
from app.web import htmx_redirect, is_htmx_partial, render

PAGE_SIZE = 25
TABS = ("analysis", "settlements", "received", "payments")
ZERO = Decimal("0.00")


class EmptyForm(IdempotentForm):
    pass


class BankTransferForm(IdempotentForm):
    receipt = DirectFileField("Bank-transfer receipt (PDF or image)", kind="payment_receipt")


def _partner():
    partner = current_user.partner
    if partner is None:
        abort(404)
    return partner


def _totals(partner) -> dict:
    """Gross, fees and net of the CP's live (not void) transactions; net split into receivable and received."""
    tx = CommissionTransaction
    live = sa.and_(tx.cp_id == partner.id, tx.status != "void")
    gross, fee, receivable, received = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(tx.gross_commission), 0),
            sa.func.coalesce(sa.func.sum(tx.platform_fee), 0),
            sa.func.coalesce(sa.func.sum(sa.case((tx.status != "paid", tx.net_commission), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((tx.status == "paid", tx.net_commission), else_=0)), 0),
        ).where(live)
    ).one()
    owed = [t for t in _direct_paid(partner) if payments.fee_owed(t)]
    return {
        "gross": Decimal(gross),
        "fees": Decimal(fee),
        "receivable": Decimal(receivable),
        "received": Decimal(received),
        "fee_owed": sum((t.platform_fee for t in owed), ZERO),
        "owed_transactions": owed,
    }


def _direct_paid(partner) -> list[CommissionTransaction]:
    stmt = sa.select(CommissionTransaction).where(
        CommissionTransaction.cp_id == partner.id,
        CommissionTransaction.client_paid_cp_directly.is_(True),
        CommissionTransaction.status == "paid",
    )
    return list(db.session.scalars(stmt))


def _tab_query(partner, tab: str):
    if tab == "payments":
        return (
            sa.select(CpPayment)
            .options(joinedload(CpPayment.transaction).joinedload(CommissionTransaction.lead))
            .where(CpPayment.cp_id == partner.id)
            .order_by(CpPayment.created_at.desc(), CpPayment.id)
        )
    stmt = (
        sa.select(CommissionTransaction)
        .options(joinedload(CommissionTransaction.lead))
        .where(CommissionTransaction.cp_id == partner.id)
    )
    if tab == "settlements":  # settled by the admin, with a bank slip
        stmt = stmt.where(CommissionTransaction.status == "paid", CommissionTransaction.bank_slip_file_id.is_not(None))
    elif tab == "received":  # everything the partner has received, including clients who paid it directly
        stmt = stmt.where(CommissionTransaction.status == "paid")
    if tab in ("settlements", "received"):
        return stmt.order_by(CommissionTransaction.settled_at.desc(), CommissionTransaction.id)
    return stmt.order_by(CommissionTransaction.won_at.desc(), CommissionTransaction.id)


@bp.get("/commissions")
def commissions():
    partner = _partner()
    tab = request.args.get("tab", "analysis")
    tab = tab if tab in TABS else "analysis"
    pagination = db.paginate(
        _tab_query(partner, tab), page=query_page(request.args), per_page=PAGE_SIZE, error_out=False
    )
    return render(
        "cp/commissions/page.html",
        partial="cp/commissions/partials/_tab.html",
        tab=tab,
        pagination=pagination,
        totals=_totals(partner),
        empty_form=EmptyForm(formdata=None),
    )


def _detail(tx, status: int = 200, message: str | None = None, error: str | None = None, bank_form=None):
    return render(
        "cp/commissions/detail.html",
        partial="cp/commissions/partials/_workspace.html",
        status=status,
        tx=tx,
        lead=tx.lead,
        cp_payments=payments.payments_for(tx),
        fee_owed=payments.fee_owed(tx),
        checkout=request.args.get("checkout"),
        empty_form=EmptyForm(formdata=None),
        bank_form=bank_form or BankTransferForm(formdata=None),
        # Card only when Stripe is configured (no button that leads to "not available"); the platform's account
        # for a bank transfer.
        card_payments=bool(current_app.config.get("STRIPE_SECRET_KEY")),
        platform_bank=current_app.config.get("PLATFORM_BANK") or {},
        message=message,
        error=error,
    )


@bp.get("/commissions/<tx_id>")
def commission_detail(tx_id):
    return _detail(load_transaction(tx_id))


def _done(tx, message: str):
    db.session.commit()
    if not is_htmx_partial():
        flash(message, "success")
        return redirect(url_for("cp.commission_detail", tx_id=tx.id), code=303)
    return _detail(tx, message=message)


@bp.post("/commissions/<tx_id>/request-settlement")
@members(OWNER)  # payouts and payments are the owner's
def commission_request_settlement(tx_id):
    tx = load_transaction(tx_id)
    if not EmptyForm().validate():
        return _detail(tx, status=422, error="Your form expired. Please reload the page and try again.")
    try:
        settlements.request_settlement(tx, current_user)
    except settlements.SettlementRefused as exc:
        db.session.rollback()
        return _detail(load_transaction(tx_id), status=409, error=str(exc))
    return _done(tx, "Settlement requested: the admins have been notified.")


@bp.post("/commissions/<tx_id>/pay/card")
@members(OWNER)  # payouts and payments are the owner's
def commission_pay_card(tx_id):
    tx = load_transaction(tx_id)
    if not EmptyForm().validate():
        return _detail(tx, status=422, error="Your form expired. Please reload the page and try again.")
    back = url_for("cp.commission_detail", tx_id=tx.id, _external=True)
    try:
        _payment, checkout_url = payments.start_card_payment(
            tx, current_user, success_url=f"{back}?checkout=success", cancel_url=f"{back}?checkout=cancelled"
        )
    except payments.PaymentError as exc:
        db.session.rollback()
        return _detail(load_transaction(tx_id), status=409, error=str(exc))
    db.session.commit()
    return htmx_redirect(checkout_url)


@bp.post("/commissions/<tx_id>/pay/bank-transfer")
@members(OWNER)  # payouts and payments are the owner's
def commission_pay_bank(tx_id):
    tx = load_transaction(tx_id)
    form = BankTransferForm()
    if not form.validate():
        return _detail(tx, status=422, bank_form=form)
    try:
        payments.submit_bank_transfer(tx, current_user, form.receipt.data)
    except storage.UploadRejected as exc:
        db.session.rollback()
        form.receipt.errors = [str(exc)]
        return _detail(load_transaction(tx_id), status=422, bank_form=form)
    except payments.PaymentError as exc:
        db.session.rollback()
        return _detail(load_transaction(tx_id), status=409, error=str(exc), bank_form=form)
    return _done(tx, "Receipt uploaded: an admin will confirm your payment.")


@bp.get("/commissions/<tx_id>/receipt")
def commission_receipt(tx_id):
    response = receipts.commission_receipt_download(load_transaction(tx_id))
    if response is None:
        abort(404)
    return response


@bp.get("/payments/<payment_id>/receipt")
def payment_receipt(payment_id):
    response = receipts.payment_receipt_download(load_payment(payment_id))
    if response is None:
        abort(404)
    return response
