"""/api/v1/platform-fees (SPEC 2.5, 2.8): the platform fee of each live commission, and their batch settlement to
the super admin, through the same queries, operations and guards as /admin/platform-fees and /cp/commissions.
Partners read their own fees (never the platform's side of them); staff read all; admins settle. Settling honours
`Idempotency-Key`, and a fee is settled at most once anyway."""

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint, abort

from app.access import ADMIN, ANY_USER, STAFF, roles
from app.api import uploads
from app.api.fields import Money, Timestamp
from app.api.money import IDEMPOTENCY, MAX_BATCH, FeeRuleOut, own_partner_id
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, scope
from app.extensions import db
from app.files import storage
from app.idempotency import HEADER, new_key
from app.loaders import load_fee_settlement, load_transaction
from app.models import CommissionTransaction
from app.models.finance import TX_STATUSES
from app.money import fee_filters, fee_queries, fee_settlement_history, fee_settlements, payments

blp = Blueprint("api_fees", __name__, description="Platform fees and their settlement to the super admin")


class FeeOut(ma.Schema):
    transaction_id = ma.fields.UUID(required=True, metadata={"description": "The commission the fee comes from"})
    lead_id = ma.fields.UUID(required=True)
    lead_title = ma.fields.String(allow_none=True)
    partner_id = ma.fields.UUID(required=True)
    partner_name = ma.fields.String(allow_none=True)
    commission_status = ma.fields.String(required=True, metadata={"enum": list(TX_STATUSES)})
    won_at = Timestamp(required=True)
    lead_value = Money(allow_none=True)
    gross_commission = Money(required=True)
    fee_rule = ma.fields.Nested(FeeRuleOut, required=True)
    fee_capped = ma.fields.Boolean(required=True)
    platform_fee = Money(required=True)
    client_paid_partner_directly = ma.fields.Boolean(required=True)
    owed_by_partner = ma.fields.Boolean(
        required=True, metadata={"description": "The client paid the partner, who still owes the platform this fee"}
    )
    state = ma.fields.String(
        allow_none=True,
        metadata={"enum": ["settled", "outstanding", None], "description": "Settled to the super admin (staff)"},
    )
    settled_at = Timestamp(allow_none=True, metadata={"description": "Staff only"})
    settlement_id = ma.fields.UUID(allow_none=True, metadata={"description": "Staff only"})
    ready = ma.fields.Boolean(allow_none=True, metadata={"description": "Can be settled now (staff only)"})
    waiting_reason = ma.fields.String(allow_none=True, metadata={"description": "Why not yet (staff only)"})
    overdue = ma.fields.Boolean(allow_none=True, metadata={"description": "Outstanding for too long (staff only)"})


class FeeListArgs(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(("settled", "outstanding")), metadata={"description": "Staff"})
    overdue = ma.fields.Boolean(load_default=False, metadata={"description": "Only overdue outstanding fees (staff)"})
    partner_id = ma.fields.UUID(metadata={"description": "One partner's (staff)"})
    won_from = ma.fields.Date(metadata={"description": "Won on or after"})
    won_to = ma.fields.Date(metadata={"description": "Won on or before"})


class FeeTotalsArgs(ma.Schema):
    partner_id = ma.fields.UUID(metadata={"description": "One partner's; the whole platform's without it"})


class FeeFigures(ma.Schema):
    """The platform-fee totals (app.money.fee_queries.totals) that the fee list and the income analytics share."""

    generated = Money(required=True, metadata={"description": "settled + outstanding, to the cent"})
    settled = Money(required=True)
    outstanding = Money(required=True)
    overdue = Money(required=True)
    generated_count = ma.fields.Integer(required=True)
    settled_count = ma.fields.Integer(required=True)
    outstanding_count = ma.fields.Integer(required=True)
    overdue_count = ma.fields.Integer(required=True)


class FeeTotalsOut(FeeFigures):
    ready_count = ma.fields.Integer(required=True, metadata={"description": "Outstanding fees that can be settled now"})


class FeeSettleIn(ma.Schema):
    transaction_ids = ma.fields.List(
        ma.fields.UUID(),
        required=True,
        validate=ma.validate.Length(1, MAX_BATCH),
        metadata={"description": "The commissions whose fees to settle, as one transfer"},
    )
    bank_slip_file_id = ma.fields.UUID(required=True, metadata={"description": "Kind bank_slip (POST /money/uploads)"})
    note = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(max=fee_settlements.MAX_NOTE)
    )


class FeeSettlementItemOut(ma.Schema):
    transaction_id = ma.fields.UUID(required=True)
    lead_id = ma.fields.UUID(allow_none=True)
    amount = Money(required=True)


class FeeSettlementOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    amount = Money(required=True, metadata={"description": "The sum of its items' fees"})
    lead_count = ma.fields.Integer(required=True)
    settled_at = Timestamp(required=True)
    settled_by = ma.fields.UUID(required=True)
    notes = ma.fields.String(allow_none=True)
    bank_slip_file_id = ma.fields.UUID(required=True)
    items = ma.fields.List(ma.fields.Nested(FeeSettlementItemOut), required=True)


def _fees(txs: list[CommissionTransaction]) -> list[dict]:
    """The fee of each transaction as FeeOut shows it: the settlement side for staff only (a partner never sees
    the platform's own money), read for the whole page at once."""
    staff = acting_user().is_staff
    ready = fee_queries.settleable_ids([tx.id for tx in txs]) if staff else set()
    overdue = fee_queries.overdue_test()
    rows = []
    for tx in txs:
        item = tx.fee_settlement_item if staff else None
        row = {
            "transaction_id": tx.id,
            "lead_id": tx.lead_id,
            "lead_title": tx.lead.title if tx.lead is not None else None,
            "partner_id": tx.cp_id,
            "partner_name": tx.partner.company_name if tx.partner is not None else None,
            "commission_status": tx.status,
            "won_at": tx.won_at,
            "lead_value": tx.lead_value,
            "gross_commission": tx.gross_commission,
            "fee_rule": tx,
            "fee_capped": tx.fee_capped,
            "platform_fee": tx.platform_fee,
            "client_paid_partner_directly": tx.client_paid_cp_directly,
            "owed_by_partner": payments.fee_owed(tx),
            "state": None,
            "settled_at": None,
            "settlement_id": None,
            "ready": None,
            "waiting_reason": None,
            "overdue": None,
        }
        if staff:
            settled = tx.fee_settled_at is not None
            row.update(
                state="settled" if settled else "outstanding",
                settled_at=tx.fee_settled_at,
                settlement_id=item.settlement_id if item is not None else None,
                ready=tx.id in ready,
                waiting_reason=None if settled or tx.id in ready else fee_queries.waiting_reason(tx) or None,
                overdue=overdue(tx),
            )
        rows.append(row)
    return rows


@blp.route("/platform-fees", methods=["GET"])
@roles(*ANY_USER)
@scope("money:read")
@blp.arguments(FeeListArgs, location="query")
@blp.response(200, page_schema(FeeOut, "FeePage"))
def list_fees(args):
    """Platform fees, one per live commission (a partner: its own), newest first"""
    own = own_partner_id()
    fee_filter = fee_filters.FeeFilter(
        cp_id=own or args.get("partner_id"),
        date_from=args.get("won_from"),
        date_to=args.get("won_to"),
        state="" if own else args.get("state", ""),
        overdue=False if own else args["overdue"],
    )
    page = keyset_page(fee_queries.fees_query(fee_filter).order_by(None), CommissionTransaction, args)
    return {**page, "data": _fees(page["data"])}


@blp.route("/platform-fees/totals", methods=["GET"])
@roles(*STAFF)
@scope("money:read")
@blp.arguments(FeeTotalsArgs, location="query")
@blp.response(200, FeeTotalsOut)
def fee_totals(args):
    """Platform fees generated, settled, outstanding and overdue (staff)"""
    return fee_queries.totals(args.get("partner_id"))


@blp.route("/platform-fees/<uuid:tx_id>", methods=["GET"])
@roles(*ANY_USER)
@scope("money:read")
@blp.response(200, FeeOut)
def get_fee(tx_id):
    """The platform fee of one commission (none for a void one)"""
    tx = load_transaction(tx_id)
    if tx.status == "void":
        abort(404, message="A void commission generates no platform fee.")
    return _fees([tx])[0]


@blp.route("/platform-fees/settlements", methods=["POST"])
@roles(ADMIN)
@scope("money:write")
@blp.doc(parameters=[IDEMPOTENCY])
@blp.arguments(FeeSettleIn)
@blp.response(201, FeeSettlementOut)
@blp.alt_response(200, schema=FeeSettlementOut, description="This Idempotency-Key settled them already: that one")
@blp.alt_response(409, description="A fee is void, gone, already settled or not ready: nothing was settled")
def settle_fees(body):
    """Settle outstanding platform fees to the super admin as one transfer with its bank slip (admins)

    The whole batch is settled or none of it; a fee is settled at most once, ever."""
    slip = uploads.claimable(body["bank_slip_file_id"], "bank_slip", "bank_slip_file_id")
    try:
        settlement, created = fee_settlements.settle_fees(
            acting_user(),
            idempotency_key=request.headers.get(HEADER) or new_key(),
            slip=slip,
            note=body["note"],
            transaction_ids=body["transaction_ids"],
        )
    except fee_settlements.NothingToSettle as exc:
        db.session.rollback()
        abort(422, message=str(exc), errors={"transaction_ids": [str(exc)]})
    except fee_settlements.SettlementRefused as exc:
        db.session.rollback()
        abort(409, message=str(exc))
    except storage.UploadRejected as exc:
        uploads.upload_refused(exc, "bank_slip_file_id")
    db.session.commit()
    return _settlement(settlement), 201 if created else 200


def _settlement(settlement) -> dict:
    items = fee_settlement_history.settlement_items(settlement)
    return {**{name: getattr(settlement, name) for name in FeeSettlementOut._declared_fields}, "items": items}


@blp.route("/platform-fees/settlements/<uuid:settlement_id>", methods=["GET"])
@roles(*STAFF)
@scope("money:read")
@blp.response(200, FeeSettlementOut)
def get_fee_settlement(settlement_id):
    """One settlement of platform fees to the super admin, with its items (staff)"""
    return _settlement(load_fee_settlement(settlement_id))
