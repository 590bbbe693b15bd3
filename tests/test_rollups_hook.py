"""The rollups' session hook on its short paths (app.reporting.rollups): a stage change reads each lead's facts
once (the facts after are derived from the guarded UPDATE's values), any other change of the same lead in the
flush still reads them back, and bulk statements keep their place in the order of the flush."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.leads import pipeline
from app.models import CommissionTransaction, Lead, PlatformFeeSettlementItem
from app.money import commissions
from app.reporting import rollups
from tests import factories
from tests.fee_support import settle, won

D = Decimal


@pytest.fixture
def people(app):
    with app.test_request_context():  # the services' notifications build links
        factories.make_fee_config("percentage", "10")
        yield {"admin": factories.make_user("admin"), "partner": factories.make_partner()}


class Statements:
    """The SQL statements run inside the block."""

    def __init__(self):
        self.seen: list[str] = []

    def __enter__(self):
        sa.event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, *args):
        self.seen.append(" ".join(statement.split()))

    def count(self, prefix: str) -> int:
        return sum(s.startswith(prefix) for s in self.seen)


FACTS = "SELECT leads.id AS lead_id"


def in_step():
    db.session.commit()  # a bulk statement with no flush after it lands in the rollups at the commit
    assert rollups.reconcile() == []


def test_moves_between_open_stages_and_to_lost_read_the_facts_once(people):
    admin, partner = people["admin"], people["partner"]
    category = factories.make_category()
    lead = factories.make_lead(partner, category_id=category.id, lead_value=D("2500.50"), kanban_stage="new")
    bare = factories.make_lead(partner, kanban_stage="new")  # no category, no value
    db.session.commit()
    for target in ("contacted", "qualified", "proposal", "negotiation"):
        for one in (lead, bare):
            with Statements() as run:
                pipeline.change_stage(one, target, admin, one.version)
                db.session.flush()
            assert run.count(FACTS) == 1, run.seen  # before only: the facts after are derived
            assert run.count("SELECT leads.id FROM leads") == 0
            in_step()
    pipeline.change_stage(lead, "lost", admin, lead.version, lost_reason="Budget cut")  # keyed by its stage date
    db.session.commit()
    assert rollups.reconcile() == []


def test_a_lead_whose_commission_was_voided_moves_with_its_transaction_in_the_figures(people):
    admin, partner = people["admin"], people["partner"]
    tx = won(partner, admin, paid=False)
    lead = db.session.get(Lead, tx.lead_id)
    pipeline.change_stage(lead, "negotiation", admin, lead.version)  # leaving Won voids the commission
    in_step()
    for target in ("proposal", "qualified", "contacted"):  # keyed by the void transaction's win date
        pipeline.change_stage(lead, target, admin, lead.version)
        in_step()
    pipeline.change_stage(lead, "won", admin, lead.version)  # the transaction comes back: read back, not derived
    in_step()
    assert db.session.get(CommissionTransaction, tx.id).status == "pending"


def test_another_change_of_the_moved_lead_before_the_flush_is_read_back(people):
    partner = people["partner"]
    lead = factories.make_lead(partner, lead_value=D("100.00"), kanban_stage="contacted")
    db.session.commit()
    with db.session.no_autoflush:
        pipeline._claim_version(lead, lead.version, kanban_stage="qualified")
        lead.lead_value = D("250.00")  # same lead, same flush: its facts after cannot be derived
    in_step()
    db.session.execute(  # a SET that is an expression, not a literal value: read back
        sa.update(Lead).where(Lead.id == lead.id).values(lead_value=Lead.lead_value + 5, kanban_stage="proposal")
    )
    in_step()
    assert db.session.scalar(sa.select(Lead.lead_value).where(Lead.id == lead.id)) == D("255.00")


def test_a_refused_stale_move_leaves_the_figures_as_they_were(people):
    admin, partner = people["admin"], people["partner"]
    lead = factories.make_lead(partner, kanban_stage="contacted")
    db.session.commit()
    before = rollups.reconcile()
    stale = lead.version - 1
    with pytest.raises(pipeline.StaleLead):
        pipeline.change_stage(lead, "qualified", admin, stale)
    db.session.commit()  # a caller that carries on: nothing of the refused move may land in the rollups
    assert before == [] and rollups.reconcile() == []
    assert db.session.get(Lead, lead.id).kanban_stage == "contacted"


def test_a_bulk_update_after_unflushed_changes_counts_both(people):
    """The statement's autoflush runs after the hook has read the facts, and applies (and forgets) them before
    the UPDATE itself runs: the hook flushes first, so the UPDATE's change is not lost."""
    partner = people["partner"]
    lead = factories.make_lead(partner, lead_value=D("10.00"), kanban_stage="new")
    other = factories.make_lead(partner, lead_value=D("20.00"), kanban_stage="new")
    db.session.commit()
    ids = [lead.id, other.id]
    other.lead_value = D("30.00")  # pending in the session, not flushed
    db.session.execute(sa.update(Lead).where(Lead.id.in_(ids)).values(kanban_stage="contacted"))
    in_step()
    ids = [lead.id]
    lead.lead_value = D("40.00")
    db.session.execute(sa.update(Lead).where(Lead.id.in_(ids)).values(kanban_stage="qualified"))
    in_step()


def test_bulk_deleting_a_settlement_line_makes_the_fee_outstanding_again(people):
    admin, partner = people["admin"], people["partner"]
    tx = won(partner, admin)
    settle(admin, [tx])
    in_step()
    assert db.session.get(CommissionTransaction, tx.id).fee_settled_at is not None
    db.session.execute(sa.delete(PlatformFeeSettlementItem).where(PlatformFeeSettlementItem.transaction_id == tx.id))
    db.session.expire_all()
    assert db.session.get(CommissionTransaction, tx.id).fee_settled_at is None
    in_step()


def test_a_money_edit_after_a_move_in_one_transaction_stays_in_step(people):
    admin, partner = people["admin"], people["partner"]
    lead = factories.make_lead(partner, lead_value=D("1000"), commission_amount=D("100"), kanban_stage="proposal")
    db.session.commit()
    pipeline.change_stage(lead, "negotiation", admin, lead.version)
    pipeline.set_amounts(lead, D("5000"), D("400"), admin, lead.version)
    pipeline.change_stage(lead, "won", admin, lead.version)
    commissions.record_client_payment(commissions.transaction_for(lead), admin, lead.updated_at.date(), "INV")
    db.session.commit()
    assert rollups.reconcile() == []


def test_a_drag_on_the_board_reads_no_badge_and_no_fact_twice(app, people):
    from tests.conftest import login

    partner = people["partner"]
    lead = factories.make_lead(partner, lead_value=D("10"), kanban_stage="contacted")
    db.session.commit()
    client = login(app.test_client(), partner.user)
    with Statements() as run:
        response = client.post(
            "/cp/leads/assigned/kanban/qualified",
            data={"card": f"{lead.id}:{lead.version}"},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    assert run.count(FACTS) == 1 and run.count("SELECT count(*) AS count_1 FROM notifications") == 0, run.seen
    assert run.count("SELECT channel_partners") == 0  # loaded with the user
    assert rollups.reconcile() == []
