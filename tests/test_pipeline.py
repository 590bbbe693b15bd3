"""The pipeline service: allocation, stage changes with optimistic concurrency, money, overrides, deletion."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.leads import deletion, pipeline
from app.models import AuditEvent, CommissionTransaction, Lead, LeadActivity, Notification
from tests import factories


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context():
        yield


@pytest.fixture
def people():
    factories.make_fee_config("percentage", "10")
    admin = factories.make_user("admin")
    cp = factories.make_partner(company="Northwind")
    other = factories.make_partner(company="Other Co")
    return admin, cp, other


def notifications(user, event):
    return list(
        db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id, Notification.event == event))
    )


def test_allocation_sets_new_notifies_the_partner_and_is_recorded(people):
    admin, cp, _ = people
    lead = factories.make_lead(title="Solar roof")
    pipeline.allocate(lead, cp, admin, override=("fixed", Decimal("50")))
    assert (lead.allocated_to, lead.allocation_status, lead.kanban_stage) == (cp.id, "allocated", "new")
    assert lead.fee_override_type == "fixed" and lead.version == 2
    [note] = notifications(cp.user, "lead_assigned")
    assert note.message == "A new lead 'Solar roof' has been assigned to you. Start working on it now."
    assert note.link == f"/cp/leads/{lead.id}"
    assert db.session.scalar(sa.select(LeadActivity.action).where(LeadActivity.lead_id == lead.id)) == "allocated"
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lead.allocated")).after["allocated_to"]


def test_only_admins_allocate_and_only_to_approved_partners(people):
    admin, cp, _ = people
    lead = factories.make_lead()
    pending = factories.make_partner(status="pending")
    with pytest.raises(pipeline.NotAllowed):
        pipeline.allocate(lead, cp, cp.user)
    with pytest.raises(pipeline.PipelineError):
        pipeline.allocate(lead, pending, admin)


def test_a_stale_version_is_refused_and_nothing_is_overwritten(people):
    admin, cp, _ = people
    lead = factories.make_lead(assignee=cp)
    read_version = lead.version
    pipeline.change_stage(lead, "qualified", admin, read_version)
    db.session.commit()
    with pytest.raises(pipeline.StaleLead, match="changed by someone else"):
        pipeline.change_stage(lead, "contacted", cp.user, read_version)
    db.session.rollback()
    assert db.session.get(Lead, lead.id).kanban_stage == "qualified"


def test_lost_needs_a_reason_and_tells_the_admins(people):
    admin, cp, _ = people
    lead = factories.make_lead(assignee=cp, title="Warehouse")
    with pytest.raises(pipeline.PipelineError) as refused:
        pipeline.change_stage(lead, "lost", cp.user, lead.version, "   ")
    assert refused.value.field == "lost_reason"
    pipeline.change_stage(lead, "lost", cp.user, lead.version, "Went with a competitor")
    assert lead.lost_reason == "Went with a competitor"
    [note] = notifications(admin, "lead_lost")
    assert note.message == "CP Northwind marked lead 'Warehouse' as lost. Reason: Went with a competitor"


def test_won_opens_one_commission_and_leaving_won_voids_it(people):
    admin, cp, _ = people
    lead = factories.make_lead(assignee=cp, title="Big deal", lead_value="10000", commission_amount="1000")
    pipeline.change_stage(lead, "won", cp.user, lead.version)
    tx = db.session.scalar(sa.select(CommissionTransaction).where(CommissionTransaction.lead_id == lead.id))
    assert (tx.status, tx.platform_fee, tx.net_commission) == ("pending", Decimal("100.00"), Decimal("900.00"))
    [won] = notifications(admin, "lead_won")
    assert won.message == "CP Northwind marked lead 'Big deal' as won. Commission record has been created."
    pipeline.change_stage(lead, "negotiation", cp.user, lead.version)
    assert tx.status == "void"
    assert notifications(admin, "commission_voided")


def test_a_paid_lead_is_frozen(people):
    admin, cp, _ = people
    lead = factories.make_lead(assignee=cp, lead_value="10000", commission_amount="1000")
    pipeline.change_stage(lead, "won", cp.user, lead.version)
    tx = db.session.scalar(sa.select(CommissionTransaction).where(CommissionTransaction.lead_id == lead.id))
    tx.status = "paid"
    with pytest.raises(pipeline.Frozen):
        pipeline.change_stage(lead, "lost", admin, lead.version, "Changed mind")
    with pytest.raises(pipeline.Frozen):
        pipeline.set_amounts(lead, "20000", "2000", admin, lead.version)
    assert lead.kanban_stage == "won" and lead.commission_amount == Decimal("1000.00")


def test_amounts_store_fee_and_net_from_the_rule(people):
    _, cp, _ = people
    lead = factories.make_lead(assignee=cp)
    pipeline.set_amounts(lead, "10,000", "1000", cp.user, lead.version)
    assert (lead.platform_fee_amount, lead.net_commission) == (Decimal("100.00"), Decimal("900.00"))
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lead.amounts_changed")) is not None


@pytest.mark.parametrize("bad", ["NaN", "inf", "-1", "1e40", "1000000000000", "1.005", "12abc", "٣", "9" * 60])
def test_bad_amounts_are_refused_with_a_message(people, bad):
    _, cp, _ = people
    lead = factories.make_lead(assignee=cp)
    with pytest.raises(pipeline.PipelineError) as refused:
        pipeline.set_amounts(lead, "100", bad, cp.user, lead.version)
    assert refused.value.field == "commission_amount"


def test_fee_override_is_admin_only_and_recomputes(people):
    admin, cp, _ = people
    lead = factories.make_lead(assignee=cp, commission_amount="30")
    with pytest.raises(pipeline.NotAllowed):
        pipeline.set_fee_override(lead, "fixed", "50", cp.user)
    pipeline.set_fee_override(lead, "fixed", "50", admin)
    assert (lead.platform_fee_amount, lead.net_commission, lead.fee_capped) == (Decimal("30.00"), Decimal("0.00"), True)
    pipeline.set_fee_override(lead, None, None, admin)
    assert (lead.platform_fee_amount, lead.has_fee_override) == (Decimal("3.00"), False)


def test_a_cp_cannot_touch_another_partners_lead(people):
    _, cp, other = people
    lead = factories.make_lead(assignee=cp)
    for action in (
        lambda: pipeline.change_stage(lead, "contacted", other.user, lead.version),
        lambda: pipeline.set_amounts(lead, "1", "1", other.user, lead.version),
        lambda: pipeline.add_note(lead, "hi", other.user),
    ):
        with pytest.raises(pipeline.NotAllowed):
            action()


def test_an_unallocated_lead_cannot_move(people):
    admin, _, _ = people
    lead = factories.make_lead()
    with pytest.raises(pipeline.PipelineError, match="Allocate"):
        pipeline.change_stage(lead, "won", admin, lead.version)


def test_deleting_a_lead_with_a_recorded_client_payment_needs_a_second_confirmation_and_is_audited(people):
    admin, cp, _ = people
    owner = factories.make_user("super_admin")
    lead = factories.make_lead(assignee=cp, title="Due one", commission_amount="1000")
    pipeline.add_note(lead, "Signed on the spot", cp.user)
    pipeline.change_stage(lead, "won", cp.user, lead.version)
    db.session.scalar(sa.select(CommissionTransaction)).status = "due"
    with pytest.raises(pipeline.NotAllowed):
        deletion.delete_lead(lead, admin, confirmed_twice=True)
    with pytest.raises(deletion.NeedsSecondConfirmation):
        deletion.delete_lead(lead, owner)
    lead_id = lead.id
    deletion.delete_lead(lead, owner, confirmed_twice=True)
    db.session.commit()
    assert db.session.get(Lead, lead_id) is None
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lead.deleted"))
    assert event.before["title"] == "Due one"
    assert event.before["notes"][0]["body"] == "Signed on the spot"
    assert event.before["commission_transaction"]["status"] == "due"


def test_a_lead_whose_commission_was_paid_cannot_be_deleted_even_when_confirmed_twice(people):
    _, cp, _ = people
    owner = factories.make_user("super_admin")
    lead = factories.make_lead(assignee=cp, title="Paid one", commission_amount="1000")
    pipeline.change_stage(lead, "won", cp.user, lead.version)
    db.session.scalar(sa.select(CommissionTransaction)).status = "paid"
    with pytest.raises(deletion.KeptForMoney, match="commission was paid"):
        deletion.delete_lead(lead, owner, confirmed_twice=True)
    assert db.session.get(Lead, lead.id) is not None
