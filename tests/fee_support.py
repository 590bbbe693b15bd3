"""Helpers for the platform-fee tests: won leads with their commission transactions, and slips."""

import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal

from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.files import storage
from app.models.base import utcnow
from app.money import commissions, fee_queries, fee_settlements, settlements
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def won(partner, actor, commission="1000", value="10000", title=None, days_ago=0, paid=True, **kw):
    """A lead of `partner` moved to Won: returns its commission transaction.

    With `paid` (the default) the client payment is recorded and the net commission settled to the
    CP, so the fee is ready to settle to the super admin; otherwise the transaction stays pending."""
    lead = factories.make_lead(
        partner,
        kanban_stage="won",
        lead_value=Decimal(value),
        commission_amount=Decimal(commission),
        **({"title": title} if title else {}),
        **kw,
    )
    tx = commissions.open_for_won_lead(lead, actor)
    if paid:
        pay_out(tx, actor)
    if days_ago:
        tx.won_at = utcnow() - timedelta(days=days_ago)
    db.session.flush()
    return tx


def pay_out(tx, actor):
    """Client payment recorded, then the net commission settled to the CP with a slip (pending → due → paid)."""
    commissions.record_client_payment(tx, actor, utcnow().date(), "CLIENT-INV")
    slip = FileStorage(stream=io.BytesIO(PDF), filename="cp-slip.pdf", content_type="application/pdf")
    settlements.settle_to_cp(tx, actor, slip, "TRF-CP", uuid.uuid4().hex, str(tx.net_commission))
    return tx


def stored_slip(actor, name="slip.pdf"):
    return storage.save_bytes(PDF, "bank_slip", name, "application/pdf", actor=actor)


def slip_upload(name="slip.pdf"):
    return (io.BytesIO(PDF), name)


def settle(actor, txs, key=None, note=None):
    """Settle the fees of `txs` as one batch with a stored slip (service level)."""
    settlement, _created = fee_settlements.settle_fees(
        actor,
        idempotency_key=key or uuid.uuid4().hex,
        slip=stored_slip(actor),
        note=note,
        transaction_ids=[tx.id for tx in txs],
    )
    return settlement


def assert_reconciles():
    totals = fee_queries.totals()
    assert totals.generated == totals.settled + totals.outstanding
    return totals


def confirmed(client, data: dict) -> dict:
    """`data` (a settle form's fields) plus the count and total that the confirmation step
    (/admin/platform-fees/settle/review) shows for the same choice, as the admin confirms them."""
    choice = ("transaction_ids", "select_all", "cp", "partner", "from", "to", "state", "overdue")
    page = client.get("/admin/platform-fees/settle/review", query_string={k: v for k, v in data.items() if k in choice})
    fields = dict(
        re.findall(r'name="(confirm_count|confirm_total)" type="hidden" value="([^"]*)"', page.get_data(as_text=True))
    )
    return {**data, **fields}
