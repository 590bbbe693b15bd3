"""A Hypothesis state machine over the commission money services: win, edit amounts, leave Won, record the
client payment, flag "paid directly", re-apply a changed rule, request and settle, and the CP's bank-transfer
fee payment. After every step: commission == fee + net for every transaction, one transaction per lead,
paid transactions never change, the lead shows its transaction's amounts, and the CP's totals reconcile."""

import io
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import CommissionTransaction, CpPayment
from app.money import commissions, payments, settlements
from tests import factories
from tests.storage_support import pdf_bytes

AMOUNTS = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999.99"), places=2, allow_nan=False)
PERCENTAGES = st.decimals(min_value=Decimal("0"), max_value=Decimal("150"), places=2, allow_nan=False)


def pdf_upload(name="slip.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(pdf_bytes()), filename=name)


class MoneyFlow(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.admin = factories.make_user("admin")
        self.partner = factories.make_partner()
        factories.make_fee_config("percentage", "10")
        self.leads = [factories.make_lead(assignee=self.partner, commission_amount="1000") for _ in range(3)]
        self.frozen: dict = {}  # tx id -> amounts when it was paid
        db.session.commit()

    def tx_of(self, index):
        return commissions.transaction_for(self.leads[index])

    @rule(i=st.integers(0, 2))
    def win(self, i):
        lead = self.leads[i]
        if lead.kanban_stage != "won":
            old, lead.kanban_stage = lead.kanban_stage, "won"
            commissions.on_stage_changed(lead, old, self.admin)
            db.session.commit()

    @rule(i=st.integers(0, 2))
    def leave_won(self, i):
        lead = self.leads[i]
        if lead.kanban_stage == "won" and not commissions.is_frozen(lead):
            lead.kanban_stage = "negotiation"
            commissions.on_stage_changed(lead, "won", self.admin)
            db.session.commit()

    @rule(i=st.integers(0, 2), commission=AMOUNTS)
    def edit_commission(self, i, commission):
        lead = self.leads[i]
        if commissions.is_frozen(lead):
            return
        lead.commission_amount = commission
        commissions.recompute(lead, self.admin)
        db.session.commit()

    @rule(i=st.integers(0, 2), pct=PERCENTAGES)
    def reapply_new_rule(self, i, pct):
        factories.make_fee_config("percentage", str(pct))
        tx = self.tx_of(i)
        if tx is not None and tx.status in ("pending", "due"):
            commissions.reapply_current_rule(tx, self.admin)
        db.session.commit()

    @rule(i=st.integers(0, 2), direct=st.booleans())
    def client_pays(self, i, direct):
        tx = self.tx_of(i)
        if tx is None or tx.status != "pending" or tx.gross_commission <= 0:
            return
        if direct:
            commissions.flag_paid_directly(tx, self.admin, date(2026, 1, 2))
        else:
            commissions.record_client_payment(tx, self.admin, date(2026, 1, 2), "INV")
        db.session.commit()
        self._remember_if_paid(tx)

    @rule(i=st.integers(0, 2), twice=st.booleans())
    def request_and_settle(self, i, twice):
        tx = self.tx_of(i)
        if tx is None or tx.status != "due":
            return
        settlements.request_settlement(tx, self.partner.user)
        key = f"key-{tx.id.hex}"
        for _ in range(2 if twice else 1):
            settlements.settle_to_cp(tx, self.admin, pdf_upload(), "TRF", key, tx.net_commission)
            db.session.commit()
        self._remember_if_paid(tx)

    @rule(i=st.integers(0, 2), approve=st.booleans())
    def cp_pays_fee_by_bank(self, i, approve):
        tx = self.tx_of(i)
        if tx is None or not payments.fee_owed(tx) or any(p.status == "pending" for p in payments.payments_for(tx)):
            return
        payment = payments.submit_bank_transfer(tx, self.partner.user, pdf_upload("receipt.pdf"))
        payments.review_bank_transfer(payment, self.admin, approve, None if approve else "Wrong amount")
        db.session.commit()

    def _remember_if_paid(self, tx):
        if tx.status == "paid":
            self.frozen.setdefault(tx.id, (tx.gross_commission, tx.platform_fee, tx.net_commission))

    def transactions(self) -> list[CommissionTransaction]:
        """This run's transactions (each run has its own partner, so runs need no wipe in between)."""
        return list(
            db.session.scalars(sa.select(CommissionTransaction).where(CommissionTransaction.cp_id == self.partner.id))
        )

    @invariant()
    def amounts_reconcile(self):
        for tx in self.transactions():
            assert tx.gross_commission == tx.platform_fee + tx.net_commission
            assert tx.platform_fee >= 0 and tx.net_commission >= 0
            if tx.status != "void":
                assert tx.lead.platform_fee_amount == tx.platform_fee or tx.lead.commission_amount is None

    @invariant()
    def one_transaction_per_lead_and_paid_is_frozen(self):
        lead_ids = [tx.lead_id for tx in self.transactions()]
        assert len(lead_ids) == len(set(lead_ids))
        for tx_id, amounts in self.frozen.items():
            tx = db.session.get(CommissionTransaction, tx_id)
            assert tx.status == "paid" and (tx.gross_commission, tx.platform_fee, tx.net_commission) == amounts

    @invariant()
    def at_most_one_completed_fee_payment(self):
        for tx in self.transactions():
            completed = [p for p in payments.payments_for(tx) if p.status == "completed"]
            assert len(completed) <= 1
            if completed:
                assert tx.client_paid_cp_directly and completed[0].amount == tx.platform_fee
        negative = sa.select(sa.func.count()).select_from(CpPayment).where(CpPayment.amount < 0)
        assert db.session.scalar(negative) == 0


def test_money_flow_state_machine(app):
    with app.test_request_context():
        run_state_machine_as_test(
            MoneyFlow,
            settings=settings(
                max_examples=25,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            ),
        )
