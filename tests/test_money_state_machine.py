"""Hypothesis stateful test over the money services: any sequence of win, edit amounts, leave Won (void),
client payment, settle to the CP, client-paid-CP-directly, CP pays the fee, and platform-fee settlements
keeps the books straight after every step:

- commission == platform fee + net for every transaction (and 0 ≤ fee ≤ commission);
- generated == settled + outstanding, and generated == the sum of the non-void transactions' fees;
- no fee in two settlements; each settlement's amount is the sum of its items, which match their fees;
- a paid transaction never changes again.
"""

import io
import uuid
from collections import Counter
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.leads import pipeline
from app.models import CommissionTransaction, Lead, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.models.base import utcnow
from app.money import commissions, fee_filters, fee_queries, fee_settlements, payments, settlements
from app.reporting import dashboards, reports, rollups
from tests import factories
from tests.conftest import wipe
from tests.fee_support import PDF, stored_slip

OUTCOMES: Counter = Counter()  # what the runs did, so the test can check it reached the interesting states
amounts = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
EXPECTED = (
    pipeline.PipelineError,
    commissions.CommissionError,
    commissions.CommissionFrozen,
    settlements.SettlementRefused,
    payments.PaymentError,
    fee_settlements.SettlementRefused,
    fee_settlements.NothingToSettle,
)


def pdf_upload(name="slip.pdf"):
    return FileStorage(stream=io.BytesIO(PDF), filename=name, content_type="application/pdf")


class MoneyMachine(RuleBasedStateMachine):
    leads = Bundle("leads")

    def __init__(self, app):
        super().__init__()
        self.app = app
        db.session.rollback()
        db.session.remove()
        wipe(app)
        factories.make_fee_config("percentage", "10")
        self.admin = factories.make_user("admin")
        factories.make_user("super_admin")
        self.partner = factories.make_partner()
        db.session.commit()
        self.paid: dict[uuid.UUID, tuple] = {}

    # --- helpers ------------------------------------------------------------------------------

    def _attempt(self, action, name: str) -> bool:
        try:
            action()
        except EXPECTED:
            db.session.rollback()
            OUTCOMES[f"{name}: refused"] += 1
            return False
        db.session.commit()
        OUTCOMES[f"{name}: done"] += 1
        return True

    def _tx(self, lead_id):
        return db.session.scalar(sa.select(CommissionTransaction).where(CommissionTransaction.lead_id == lead_id))

    def _lead(self, lead_id):
        return db.session.get(Lead, lead_id)

    # --- rules ----------------------------------------------------------------------------------

    @initialize(target=leads, commission=amounts)
    def first_lead(self, commission):
        return self._new_lead(commission)

    @rule(target=leads, commission=amounts, value=amounts)
    def add_lead(self, commission, value):
        return self._new_lead(commission, value)

    def _new_lead(self, commission, value=Decimal("5000")):
        lead = factories.make_lead(
            self.partner, kanban_stage="negotiation", commission_amount=commission, lead_value=value
        )
        db.session.commit()
        return lead.id

    @rule(lead_id=leads)
    def win(self, lead_id):
        lead = self._lead(lead_id)
        self._attempt(lambda: pipeline.change_stage(lead, "won", self.admin, lead.version), "win")

    @rule(lead_id=leads)
    def leave_won(self, lead_id):
        lead = self._lead(lead_id)
        tx_before = self._tx(lead_id)
        was_paid = tx_before is not None and tx_before.status == "paid"
        moved = self._attempt(lambda: pipeline.change_stage(lead, "negotiation", self.admin, lead.version), "leave_won")
        if was_paid:
            assert not moved and self._lead(lead_id).kanban_stage == "won"

    @rule(lead_id=leads, commission=amounts, value=amounts)
    def edit_amounts(self, lead_id, commission, value):
        lead = self._lead(lead_id)
        self._attempt(lambda: pipeline.set_amounts(lead, value, commission, self.admin, lead.version), "edit_amounts")

    @rule(lead_id=leads)
    def record_client_payment(self, lead_id):
        tx = self._tx(lead_id)
        if tx is not None:
            self._attempt(
                lambda: commissions.record_client_payment(tx, self.admin, utcnow().date(), "INV"), "client_payment"
            )

    @rule(lead_id=leads)
    def settle_to_cp(self, lead_id):
        tx = self._tx(lead_id)
        if tx is not None:
            net = str(tx.net_commission)
            self._attempt(
                lambda: settlements.settle_to_cp(tx, self.admin, pdf_upload(), "TRF", uuid.uuid4().hex, net),
                "settle_to_cp",
            )

    @rule(lead_id=leads)
    def client_paid_cp_directly(self, lead_id):
        tx = self._tx(lead_id)
        if tx is not None:
            self._attempt(
                lambda: commissions.flag_paid_directly(tx, self.admin, utcnow().date(), None), "paid_directly"
            )

    @rule(lead_id=leads, approve=st.booleans())
    def cp_pays_fee_by_bank_transfer(self, lead_id, approve):
        tx = self._tx(lead_id)
        if tx is None:
            return
        cp_user = self.partner.user

        def pay():
            payment = payments.submit_bank_transfer(tx, cp_user, pdf_upload("receipt.pdf"))
            payments.review_bank_transfer(payment, self.admin, approve, None if approve else "Unreadable receipt")

        self._attempt(pay, "cp_pays_fee")

    @rule(lead_id=leads, direct=st.booleans())
    def advance(self, lead_id, direct):
        """Move a lead one step along the money path, so runs reach paid and settled states often."""
        tx = self._tx(lead_id)
        if tx is None or tx.status == "void":
            self.win(lead_id)
        elif tx.status == "pending":
            self.client_paid_cp_directly(lead_id) if direct else self.record_client_payment(lead_id)
        elif tx.status == "due":
            self.settle_to_cp(lead_id)
        elif tx.client_paid_cp_directly:
            self.cp_pays_fee_by_bank_transfer(lead_id, True)

    @rule(chosen=st.lists(leads, min_size=1, max_size=4, unique=True), twice=st.booleans())
    def settle_fees(self, chosen, twice):
        txs = [tx for tx in (self._tx(lead_id) for lead_id in chosen) if tx is not None]
        if not txs:
            return
        key = uuid.uuid4().hex
        ids = [tx.id for tx in txs]

        def settle():
            fee_settlements.settle_fees(
                self.admin, idempotency_key=key, slip=stored_slip(self.admin), transaction_ids=ids
            )

        count = db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement))
        settled = self._attempt(settle, "settle_fees")
        if settled and twice:  # the same form submitted again: no second settlement
            self._attempt(settle, "settle_fees_again")
        after = db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement))
        assert after == count + (1 if settled else 0)

    @rule()
    def settle_every_ready_fee(self):
        """The admin's "select all matching the filter": every fee ready to settle, resolved by the service."""
        ready = fee_queries.matching_outstanding_ids(fee_filters.FeeFilter())

        def settle():
            fee_settlements.settle_fees(
                self.admin,
                idempotency_key=uuid.uuid4().hex,
                slip=stored_slip(self.admin),
                fee_filter=fee_filters.FeeFilter(),
            )

        if self._attempt(settle, "settle_fees"):
            assert not fee_queries.matching_outstanding_ids(fee_filters.FeeFilter()) and ready

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def amounts_reconcile(self):
        for tx in db.session.scalars(sa.select(CommissionTransaction)):
            assert tx.gross_commission == tx.platform_fee + tx.net_commission
            assert Decimal(0) <= tx.platform_fee <= tx.gross_commission

    @invariant()
    def totals_reconcile(self):
        totals = fee_queries.totals()
        assert totals.generated == totals.settled + totals.outstanding
        live = db.session.scalars(sa.select(CommissionTransaction).where(CommissionTransaction.status != "void")).all()
        assert totals.generated == sum((tx.platform_fee for tx in live), Decimal("0.00"))

    @invariant()
    def each_fee_settled_at_most_once(self):
        items = db.session.scalars(sa.select(PlatformFeeSettlementItem)).all()
        assert len({i.transaction_id for i in items}) == len(items)
        for item in items:
            assert item.amount == item.transaction.platform_fee and item.transaction.status == "paid"
        for settlement in db.session.scalars(sa.select(PlatformFeeSettlement)):
            assert settlement.amount == sum(i.amount for i in settlement.items)
            assert settlement.lead_count == len(settlement.items)
        assert fee_queries.totals().settled == sum((i.amount for i in items), Decimal("0.00"))

    @invariant()
    def rollups_reconcile_with_rows(self):
        """The maintained aggregates equal a fresh fold of the rows, and the dashboards' figures equal the report's."""
        assert rollups.reconcile() == []
        from_rows = reports.report_totals()
        from_rollup = dashboards.admin_overview()["totals"]
        assert from_rollup == from_rows
        assert (
            dashboards.partner_kpis(self.partner)["commission_earned"]
            == reports.report_totals(reports.ReportFilters(cp_id=self.partner.id))["gross_commission"]
        )

    @invariant()
    def paid_transactions_never_change(self):
        for tx in db.session.scalars(sa.select(CommissionTransaction).where(CommissionTransaction.status == "paid")):
            state = (tx.status, tx.gross_commission, tx.platform_fee, tx.net_commission, tx.lead_value)
            assert self.paid.setdefault(tx.id, state) == state
        for tx_id, state in self.paid.items():
            assert db.session.get(CommissionTransaction, tx_id).status == "paid", state


def test_money_services_keep_the_books_straight(app):
    OUTCOMES.clear()
    with app.test_request_context():
        run_state_machine_as_test(
            lambda: MoneyMachine(app),
            settings=settings(
                max_examples=30,
                derandomize=True,  # the same runs every time, so the coverage check below is stable
                database=None,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    print(sorted(OUTCOMES.items()))
    for outcome in ("settle_to_cp: done", "settle_fees: done", "settle_fees: refused", "cp_pays_fee: done"):
        assert OUTCOMES[outcome] > 0, (outcome, OUTCOMES)  # the runs reached the states that matter
