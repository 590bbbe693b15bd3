"""Platform-fee records for the route walk: a paid commission whose fee was settled to the super admin
(the settlement "fee_settlement" with its slip "fee_slip"), and an outstanding fee."""

import uuid
from decimal import Decimal

from app.files import storage
from app.money import commissions, fee_settlements
from tests import factories
from tests.fee_support import PDF, pay_out


def add(world):
    cp, admin = world["partners"]["cp"], world["users"]["admin"]
    settled_lead = factories.make_lead(
        cp, title="Fee settled deal", kanban_stage="won", lead_value=Decimal("10000"), commission_amount=Decimal("1000")
    )
    open_lead = factories.make_lead(
        cp,
        title="Fee outstanding deal",
        kanban_stage="won",
        lead_value=Decimal("5000"),
        commission_amount=Decimal("400"),
    )
    settled_tx = pay_out(commissions.open_for_won_lead(settled_lead, admin), admin)
    outstanding_tx = commissions.open_for_won_lead(open_lead, admin)
    slip = storage.save_bytes(PDF, "bank_slip", "fee-slip.pdf", "application/pdf", actor=admin)
    settlement, _ = fee_settlements.settle_fees(
        admin, idempotency_key=uuid.uuid4().hex, slip=slip, note="World settlement", transaction_ids=[settled_tx.id]
    )
    world["ids"].update(
        fee_settlement=settlement.id,
        fee_slip=slip.id,
        fee_settled_tx=settled_tx.id,
        fee_outstanding_tx=outstanding_tx.id,
    )
