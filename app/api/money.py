"""/api/v1 money (SPEC 2): commission transactions and their settlement to the partner, through the same operations,
guards and loaders as /admin/commissions and /cp/commissions (the platform fees are app/api/fees.py).

Partners read their own commissions; staff read all; admins act. Amounts are strings with two decimals.
A settlement's bank slip goes through the upload handshake (POST /money/uploads, app/api/uploads.py). Settling
honours `Idempotency-Key`: the same key and body answer as the first time, and nothing is settled twice anyway.
"""

from decimal import Decimal

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint, abort

from app.access import ADMIN, ANY_USER, CP, OWNER, members, roles
from app.api import uploads
from app.api.fields import Money, Timestamp
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, scope
from app.extensions import db
from app.files import storage
from app.idempotency import HEADER
from app.loaders import load_transaction
from app.models import CommissionTransaction
from app.models.finance import FEE_SOURCES, TX_STATUSES
from app.models.leads import FEE_TYPES
from app.money import (
    commission_queries,
    settlements,
)
from app.money import commissions as commission_service
from app.web.money import MoneyError, parse_money

blp = Blueprint("api_money", __name__, description="Commissions and their settlement to the partner")

MAX_REFERENCE = 120
MAX_BATCH = 500
MAX_AMOUNT = Decimal("999999999999.99")
IDEMPOTENCY = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
    "description": "Makes a retry safe: the same key and body answer as the first time.",
}


# --- schemas ---------------------------------------------------------------------------------------


class FeeRuleOut(ma.Schema):
    type = ma.fields.String(attribute="fee_rule_type", required=True, metadata={"enum": list(FEE_TYPES)})
    value = ma.fields.Decimal(
        attribute="fee_rule_value",
        as_string=True,
        required=True,
        metadata={"type": "string", "example": "10.0000", "description": "Percent (percentage) or amount (fixed)"},
    )
    source = ma.fields.String(attribute="fee_rule_source", required=True, metadata={"enum": list(FEE_SOURCES)})


class _Itself(ma.fields.Nested):
    """A nested object made of the parent's own attributes (the fee rule snapshotted on a transaction)."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return obj


class CommissionOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    lead_id = ma.fields.UUID(required=True)
    lead_title = ma.fields.String(attribute="lead.title", allow_none=True)
    partner_id = ma.fields.UUID(attribute="cp_id", required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(TX_STATUSES)})
    lead_value = Money(allow_none=True)
    gross_commission = Money(required=True)
    platform_fee = Money(required=True)
    net_commission = Money(required=True, metadata={"description": "gross_commission - platform_fee, to the cent"})
    fee_rule = _Itself(FeeRuleOut, required=True, metadata={"description": "The rule snapshotted when it was won"})
    fee_capped = ma.fields.Boolean(required=True, metadata={"description": "The fee was capped at the commission"})
    won_at = Timestamp(required=True)
    client_paid_at = ma.fields.Date(allow_none=True)
    client_payment_reference = ma.fields.String(allow_none=True)
    client_paid_partner_directly = ma.fields.Boolean(attribute="client_paid_cp_directly", required=True)
    settlement_requested_at = Timestamp(allow_none=True)
    settled_at = Timestamp(allow_none=True)
    settlement_reference = ma.fields.String(allow_none=True)
    bank_slip_file_id = ma.fields.UUID(allow_none=True)
    voided_at = Timestamp(allow_none=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


class CommissionListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(TX_STATUSES))
    partner_id = ma.fields.UUID(metadata={"description": "One partner's (staff)"})
    requested = ma.fields.Boolean(
        load_default=False, metadata={"description": "Only open settlement requests (due, asked for by the partner)"}
    )


class ClientPaymentIn(ma.Schema):
    paid_on = ma.fields.Date(required=True, metadata={"description": "When the client paid (not in the future)"})
    reference = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=MAX_REFERENCE))
    attachment_file_id = ma.fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "A proof, kind client_payment (POST /money/uploads)"},
    )


class SettleIn(ma.Schema):
    confirmed_net = Money(
        required=True, metadata={"description": "The net commission you are paying, as you read it: must be current"}
    )
    bank_slip_file_id = ma.fields.UUID(required=True, metadata={"description": "Kind bank_slip (POST /money/uploads)"})
    reference = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=MAX_REFERENCE))


class MoneyUploadIn(uploads.UploadIn):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("bank_slip", "client_payment")),
        metadata={"description": "bank_slip (settlements) or client_payment (a client payment's proof)"},
    )


# --- commissions -----------------------------------------------------------------------------------


def own_partner_id():
    """A partner member's partner (staff: None); a member without one sees nothing of anyone's."""
    user = acting_user()
    if not user.is_cp:
        return None
    if user.partner is None:
        abort(404)
    return user.partner.id


@blp.route("/commissions", methods=["GET"])
@roles(*ANY_USER)
@scope("money:read")
@blp.arguments(CommissionListArgs, location="query")
@blp.response(200, page_schema(CommissionOut, "CommissionPage"))
def list_commissions(args):
    """Commission transactions (a partner: its own), newest first"""
    cp_id = own_partner_id() or args.get("partner_id")
    stmt = commission_queries.transactions_statement(cp_id, args.get("status", ""), args["requested"])
    return keyset_page(stmt, CommissionTransaction, args)


@blp.route("/commissions/<uuid:tx_id>", methods=["GET"])
@roles(*ANY_USER)
@scope("money:read")
@blp.response(200, CommissionOut)
def get_commission(tx_id):
    """One commission transaction"""
    return load_transaction(tx_id)


@blp.route("/commissions/<uuid:tx_id>/client-payment", methods=["POST"])
@roles(ADMIN)
@scope("money:write")
@blp.arguments(ClientPaymentIn)
@blp.response(200, CommissionOut)
@blp.alt_response(409, description="The commission is not pending, or has no amount yet")
def record_client_payment(body, tx_id):
    """Record that the client paid the platform: the commission becomes due (admins)"""
    tx = load_transaction(tx_id)
    attachment = body["attachment_file_id"]
    if attachment is not None:
        attachment = uploads.claimable(attachment, "client_payment", "attachment_file_id")
    try:
        tx = commission_service.record_client_payment(tx, acting_user(), body["paid_on"], body["reference"], attachment)
    except storage.UploadRejected as exc:
        uploads.upload_refused(exc, "attachment_file_id")
    db.session.commit()
    return tx


@blp.route("/commissions/<uuid:tx_id>/settlement", methods=["POST"])
@roles(ADMIN)
@scope("money:write")
@blp.doc(parameters=[IDEMPOTENCY])
@blp.arguments(SettleIn)
@blp.response(200, CommissionOut)
@blp.alt_response(409, description="Not due, already settled, the net changed, or bank details not verified")
def settle_commission(body, tx_id):
    """Settle the net commission to the partner with the bank slip of the transfer (admins)

    The partner is notified. Only a due commission is settled, once, and only for the net you confirm."""
    tx = load_transaction(tx_id)
    try:
        confirmed = parse_money(body["confirmed_net"], maximum=MAX_AMOUNT)
    except MoneyError as exc:
        abort(422, message=str(exc), errors={"confirmed_net": [str(exc)]})
    slip = uploads.claimable(body["bank_slip_file_id"], "bank_slip", "bank_slip_file_id")
    key = request.headers.get(HEADER)
    try:
        tx = settlements.settle_to_cp(tx, acting_user(), slip, body["reference"], key, confirmed)
    except settlements.SettlementRefused as exc:
        db.session.rollback()
        abort(409, message=str(exc))
    except storage.UploadRejected as exc:
        uploads.upload_refused(exc, "bank_slip_file_id")
    db.session.commit()
    return tx


@blp.route("/commissions/<uuid:tx_id>/settlement-request", methods=["POST"])
@roles(CP)
@members(OWNER)  # payouts and payments are the owner's, as on /cp/commissions
@scope("money:write")
@blp.response(200, CommissionOut)
@blp.alt_response(409, description="Not due yet (the client payment is not recorded)")
def request_settlement(tx_id):
    """Ask the admins to settle a due commission (the partner's owner)"""
    tx = load_transaction(tx_id)
    try:
        tx = settlements.request_settlement(tx, acting_user())
    except settlements.SettlementRefused as exc:
        db.session.rollback()
        abort(409, message=str(exc))
    db.session.commit()
    return tx


# --- files -----------------------------------------------------------------------------------------


@blp.route("/money/uploads", methods=["POST"])
@roles(ADMIN)
@scope("money:write")
@blp.arguments(MoneyUploadIn)
@blp.response(201, uploads.UploadTicket)
def reserve_money_file(body):
    """Reserve a bank slip or a client payment's proof: where to send its bytes (admins)

    POST the bytes to `upload_url` (multipart: `fields`, then the file as `file`), then name `file_id` in the
    settlement or client payment. PDF or image."""
    return uploads.ticket(body.pop("kind"), body)
