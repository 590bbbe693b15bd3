"""Platform-fee settlement to the super admin: totals that reconcile, batches under concurrency, and /super/."""

import io
import re
import threading
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import Notification, PlatformFeeSettlement, PlatformFeeSettlementItem
from app.models.base import utcnow
from app.money import commissions, fee_filters, fee_queries, fee_settlements, settlements
from tests import factories
from tests.conftest import login, make_app, requires_postgres
from tests.fee_support import PDF, assert_reconciles, confirmed, settle, slip_upload, stored_slip, won


def test_totals_reconcile_across_settled_outstanding_and_void(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    totals = assert_reconciles()
    assert (totals.generated, totals.settled, totals.outstanding) == (0, 0, 0)
    a = won(cp, admin, commission="1000")  # fee 100.00
    b = won(cp, admin, commission="333.33")  # fee 33.33
    c = won(cp, admin, commission="0.05")  # fee 0.01 (half-up from 0.005)
    d = won(cp, admin, commission="2000", paid=False)  # fee 200.00, then voided
    settle(admin, [a, c])
    commissions.void_for_lead(d.lead, admin)
    totals = assert_reconciles()
    assert totals.generated == Decimal("133.34") and totals.generated_count == 3
    assert totals.settled == Decimal("100.01") and totals.settled_count == 2
    assert totals.outstanding == Decimal("33.33") and totals.outstanding_count == 1
    # The settled total equals what the settlements themselves say was transferred.
    assert totals.settled == db.session.scalar(sa.select(sa.func.sum(PlatformFeeSettlement.amount)))
    assert fee_queries.totals(cp_id=factories.make_partner().id).generated == 0
    assert {tx.id for tx in db.session.scalars(fee_queries.outstanding_query())} == {b.id}


def test_overdue_is_outstanding_older_than_the_configured_days(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    app.config["FEE_OVERDUE_DAYS"] = 30
    old = won(cp, admin, commission="100", days_ago=31)
    recent = won(cp, admin, commission="100", days_ago=29)
    old_settled = won(cp, admin, commission="100", days_ago=60)
    settle(admin, [old_settled])
    totals = fee_queries.totals()
    assert (totals.overdue, totals.overdue_count) == (Decimal("10.00"), 1)
    assert fee_queries.is_overdue(old) and not fee_queries.is_overdue(recent)
    assert not fee_queries.is_overdue(old_settled)
    overdue = fee_filters.FeeFilter(overdue=True)
    assert list(db.session.scalars(fee_queries.fees_query(overdue))) == [old]
    app.config["FEE_OVERDUE_DAYS"] = 10
    assert fee_queries.totals().overdue_count == 2


def test_overdue_counts_the_cutoff_day_up_to_the_cutoff_time(app):
    """The platform totals read whole days from the rollups and the cutoff's own day from the rows: a fee won
    that day is overdue only when it was won before the cutoff's time."""
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    cutoff = fee_filters.overdue_cutoff()
    day_start = datetime.combine(cutoff.date(), time.min)
    before, after = won(cp, admin, commission="100"), won(cp, admin, commission="300")
    before.won_at = day_start + (cutoff - day_start) / 2
    after.won_at = cutoff + (day_start + timedelta(days=1) - cutoff) / 2
    won(cp, admin, commission="50", days_ago=app.config["FEE_OVERDUE_DAYS"] + 5)
    db.session.flush()
    totals = fee_queries.totals()
    assert (totals.overdue, totals.overdue_count) == (Decimal("15.00"), 2)
    assert fee_queries.totals(cp_id=cp.id).overdue == Decimal("15.00")  # the same rule over the rows


def test_date_filter_uses_the_win_date(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    old = won(cp, admin, days_ago=40)
    new = won(cp, admin)
    today = utcnow().date()
    recent = fee_filters.FeeFilter(date_from=today - timedelta(days=1), date_to=today)
    assert list(db.session.scalars(fee_queries.fees_query(recent))) == [new]
    older = fee_filters.FeeFilter(date_to=today - timedelta(days=39))
    assert list(db.session.scalars(fee_queries.fees_query(older))) == [old]


def _slip_file():
    return FileStorage(stream=io.BytesIO(PDF), filename="cp-slip.pdf", content_type="application/pdf")


def test_worked_example_end_to_end_to_the_super_admin(app):
    """SPEC 2: $10,000 lead, $1,000 commission at 10 % → fee $100, net $900 → client pays → settled to the CP
    → fee settled to the super admin through the admin's form → /super/ shows $100 / $100 / $0."""
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner(company="Worked Example Co")
    admin = factories.make_user("admin")
    superadmin = factories.make_user("super_admin")
    tx = won(cp, admin, commission="1000", value="10000", title="Worked example lead", paid=False)
    assert (tx.platform_fee, tx.net_commission) == (Decimal("100.00"), Decimal("900.00"))
    commissions.record_client_payment(tx, admin, date.today(), "INV-1")
    settlements.settle_to_cp(tx, admin, _slip_file(), "TRF-1", uuid.uuid4().hex, "900.00")
    db.session.commit()
    assert tx.status == "paid"

    super_client = login(app.test_client(), superadmin)
    before = super_client.get("/super/").get_data(as_text=True)
    assert _total(before, "generated") == "$100.00" and _total(before, "outstanding") == "$100.00"
    assert _total(before, "settled") == "$0.00"

    admin_client = login(app.test_client(), admin)
    response = admin_client.post(
        "/admin/platform-fees/settle",
        data={
            **confirmed(admin_client, {"idempotency_key": uuid.uuid4().hex, "transaction_ids": [str(tx.id)]}),
            "bank_slip": slip_upload(),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302

    page = super_client.get("/super/").get_data(as_text=True)
    assert (_total(page, "generated"), _total(page, "settled"), _total(page, "outstanding")) == (
        "$100.00",
        "$100.00",
        "$0.00",
    )
    assert "Worked example lead" in page and "Settled" in page
    settlements_page = super_client.get("/super/settlements").get_data(as_text=True)
    assert "$100.00" in settlements_page and "1 lead" in settlements_page
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == superadmin.id))
    assert note.message == "Admin settled $100.00 platform fee covering 1 lead. Receipt is attached."


def _total(page: str, name: str) -> str:
    return re.search(rf'data-total="{name}">([^<]+)<', page).group(1)


def test_super_pages_show_settlements_outstanding_and_the_chart(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner(company="Chart Co")
    admin = factories.make_user("admin")
    superadmin = factories.make_user("super_admin")
    overdue_tx = won(cp, admin, commission="500", value="5000", title="Overdue deal", days_ago=45)
    won(cp, admin, commission="250", title="Recent deal")
    settled = settle(admin, [won(cp, admin, commission="1000", title="Paid-up deal")], note="April transfer")
    db.session.commit()
    client = login(app.test_client(), superadmin)

    dashboard = client.get("/super/").get_data(as_text=True)
    assert "<svg" in dashboard and "<title" in dashboard and "Platform fee income by month" in dashboard
    assert "<details>" in dashboard and utcnow().strftime("%b %Y") in dashboard
    month = next(m for m in fee_queries.monthly(12) if m["month"] == utcnow().strftime("%Y-%m"))
    assert month["settled"] == Decimal("100.00")
    assert month["generated"] == Decimal("125.00")  # the overdue deal was won 45 days ago

    outstanding = client.get("/super/outstanding").get_data(as_text=True)
    assert "Overdue deal" in outstanding and "Recent deal" in outstanding and "Paid-up deal" not in outstanding
    assert "$5,000.00" in outstanding and "Overdue" in outstanding
    only_overdue = client.get("/super/outstanding?overdue=1").get_data(as_text=True)
    assert "Overdue deal" in only_overdue and "Recent deal" not in only_overdue
    assert str(overdue_tx.id) not in only_overdue  # read-only: no checkboxes or ids to act on

    listing = client.get("/super/settlements").get_data(as_text=True)
    assert "April transfer" in listing and f"/files/{settled.bank_slip_file_id}" in listing
    detail = client.get(f"/super/settlements/{settled.id}").get_data(as_text=True)
    assert "Paid-up deal" in detail and "Chart Co" in detail and "$1,000.00" in detail
    receipt = client.get(f"/super/settlements/{settled.id}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.data.startswith(b"%PDF")
    assert client.get(f"/files/{settled.bank_slip_file_id}").data == PDF
    # Read-only: the super admin cannot settle or change the rule.
    assert client.post("/admin/platform-fees/settle").status_code == 403
    assert client.get(f"/super/settlements/{uuid.uuid4()}").status_code == 404


def test_a_repeated_key_returns_the_first_settlement(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    tx = won(cp, admin)
    first = settle(admin, [tx], key="same-key-123")
    again, created = fee_settlements.settle_fees(
        admin, idempotency_key="same-key-123", slip=stored_slip(admin), transaction_ids=[tx.id]
    )
    assert again.id == first.id and created is False


@requires_postgres
def test_twenty_threads_settling_overlapping_batches_settle_each_fee_once(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    txs = [won(cp, admin, commission=str(100 + n)) for n in range(10)]
    db.session.commit()
    tx_ids, admin_id = [tx.id for tx in txs], admin.id
    batches = [sorted({tx_ids[i % 10], tx_ids[(i + 1) % 10], tx_ids[(i + 3) % 10]}) for i in range(20)]
    worker_app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 22, "max_overflow": 2})
    barrier = threading.Barrier(20)
    outcomes = []

    def worker(batch):
        with worker_app.app_context():
            actor = db.session.get(type(admin), admin_id)
            slip = stored_slip(actor)
            barrier.wait()
            try:
                fee_settlements.settle_fees(actor, idempotency_key=uuid.uuid4().hex, slip=slip, transaction_ids=batch)
                db.session.commit()
                outcomes.append(("settled", batch))
            except fee_settlements.SettlementRefused as exc:
                db.session.rollback()
                outcomes.append(("refused", str(exc)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with worker_app.app_context():
        db.engine.dispose()

    assert len(outcomes) == 20
    settled = [batch for kind, batch in outcomes if kind == "settled"]
    refused = [msg for kind, msg in outcomes if kind == "refused"]
    assert settled and refused and all("already been settled" in msg for msg in refused)
    covered = [tx_id for batch in settled for tx_id in batch]
    assert len(covered) == len(set(covered))  # no fee in two successful batches
    db.session.expire_all()
    items = db.session.scalars(sa.select(PlatformFeeSettlementItem)).all()
    assert sorted(i.transaction_id for i in items) == sorted(covered)
    for settlement in db.session.scalars(sa.select(PlatformFeeSettlement)):
        assert settlement.amount == sum(i.amount for i in settlement.items)
        assert settlement.lead_count == len(settlement.items)
    totals = assert_reconciles()
    assert totals.settled == sum(i.amount for i in items)
    assert totals.generated == sum(Decimal(100 + n) / 10 for n in range(10)).quantize(Decimal("0.01"))


@pytest.mark.parametrize("months", [1, 12])
def test_month_keys_end_with_the_current_month(months):
    keys = fee_queries.month_keys(months, date(2026, 1, 15))
    assert len(keys) == months and keys[-1] == "2026-01"
    if months == 12:
        assert keys[0] == "2025-02"
