"""Money screens that prevent mistakes (issue 20 item 7): the running "N selected, $X" beside the settle button,
the confirmation step that repeats it before any money moves, card payment only with Stripe configured, and the
platform's bank details beside the bank-transfer option."""

import re
import uuid
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import PlatformFeeSettlement
from app.money import fee_queries
from tests import factories
from tests.conftest import login
from tests.fee_support import confirmed, slip_upload, won

SUMMARY = re.compile(r'id="settle-summary"[^>]*>\s*([^<]*?)\s*<')


def _world(app, commissions=("1000", "250", "333.33")):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin = factories.make_user("admin")
    txs = [won(cp, admin, commission=c, title=f"Deal {n}") for n, c in enumerate(commissions)]
    db.session.commit()
    return cp, txs, login(app.test_client(), admin)


def _settlements() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement))


def test_the_running_summary_is_computed_on_the_server_to_the_cent(app):
    _cp, (t1, t2, t3), client = _world(app)
    page = client.get("/admin/platform-fees").get_data(as_text=True)
    assert SUMMARY.search(page).group(1) == "0 selected, $0.00"
    # The summary sits with the button above the table, not below it.
    assert page.index('id="settle-summary"') < page.index(f'id="pick-{t1.id}"')
    partial = client.get(
        "/admin/platform-fees/selection",
        query_string={"transaction_ids": [str(t2.id), str(t3.id)]},
        headers={"HX-Request": "true"},
    )
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body
    assert SUMMARY.search(body).group(1) == "2 selected, $58.33"  # 25.00 + 33.33
    # Without HTMX it is a page; a forged id is said so, not a 500.
    full = client.get("/admin/platform-fees/selection", query_string={"transaction_ids": str(t1.id)})
    assert "<html" in full.get_data(as_text=True) and "1 selected, $100.00" in full.get_data(as_text=True)
    bad = client.get("/admin/platform-fees/selection?transaction_ids=nope", headers={"HX-Request": "true"})
    assert bad.status_code == 200 and "not valid" in bad.get_data(as_text=True)


def test_the_confirmation_repeats_the_total_and_count_to_the_cent(app):
    _cp, (t1, _t2, t3), client = _world(app)
    review = client.get(
        "/admin/platform-fees/settle/review", query_string={"transaction_ids": [str(t1.id), str(t3.id)]}
    )
    body = review.get_data(as_text=True)
    assert review.status_code == 200
    assert "You are about to settle $133.33 for 2 fees" in body and "Settle $133.33 for 2 fees" in body
    listed = body[body.index('id="settle-fees-list"') : body.index("</table>")]
    assert "Deal 0" in listed and "Deal 2" in listed and "Deal 1" not in listed  # it names the fees too
    assert _settlements() == 0  # showing the confirmation settles nothing
    # "Every fee matching the filter" is resolved on the server too.
    everything = client.get("/admin/platform-fees/settle/review?select_all=y").get_data(as_text=True)
    assert "You are about to settle $158.33 for 3 fees" in everything


def test_settling_without_confirming_does_nothing(app):
    _cp, (t1, _t2, _t3), client = _world(app)
    data = {"idempotency_key": uuid.uuid4().hex, "transaction_ids": [str(t1.id)], "bank_slip": slip_upload()}
    response = client.post("/admin/platform-fees/settle", data=data, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "You are about to settle $100.00 for 1 fee" in body
    assert "then confirm the settlement" in body
    assert _settlements() == 0 and fee_queries.totals().settled == Decimal("0.00")


def test_a_batch_that_no_longer_matches_the_confirmation_is_refused(app):
    """The admin confirmed $100.00 for 1 fee for "every fee matching the filter"; another fee became ready since."""
    cp, (t1,), client = _world(app, commissions=("1000",))
    data = confirmed(client, {"idempotency_key": uuid.uuid4().hex, "select_all": "y", "cp": str(cp.id)})
    assert (data["confirm_count"], data["confirm_total"]) == ("1", "100.00")
    won(cp, factories.make_user("admin"), commission="50")
    db.session.commit()
    response = client.post(
        "/admin/platform-fees/settle", data={**data, "bank_slip": slip_upload()}, content_type="multipart/form-data"
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "not the $100.00 for 1 you confirmed" in body
    assert "You are about to settle $105.00 for 2 fees" in body  # the fresh figures, to confirm again
    assert _settlements() == 0
    forged = {**data, "confirm_total": "1e999999", "bank_slip": slip_upload()}
    assert (
        client.post("/admin/platform-fees/settle", data=forged, content_type="multipart/form-data").status_code == 422
    )
    assert _settlements() == 0


def test_the_confirmed_batch_settles_exactly_what_was_confirmed(app):
    _cp, (t1, t2, _t3), client = _world(app)
    data = confirmed(client, {"idempotency_key": uuid.uuid4().hex, "transaction_ids": [str(t1.id), str(t2.id)]})
    response = client.post(
        "/admin/platform-fees/settle", data={**data, "bank_slip": slip_upload()}, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    settlement = db.session.scalar(sa.select(PlatformFeeSettlement))
    assert (settlement.amount, settlement.lead_count) == (Decimal("125.00"), 2)


def _fee_owed_page(app):
    from tests.world_parts.w30_commissions import won_transaction

    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Direct Co")
    tx = won_transaction(partner, factories.make_user("admin"), "Direct deal", "direct")
    db.session.commit()
    client = login(app.test_client(), partner.user)
    return lambda: client.get(f"/cp/commissions/{tx.id}").get_data(as_text=True)


def test_card_payment_is_offered_only_when_stripe_is_configured(app, monkeypatch):
    page = _fee_owed_page(app)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", None)
    without = page()
    assert "Pay by bank transfer" in without and "by card" not in without
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_local")
    assert "Pay $100.00 by card" in page()


def test_the_platform_bank_details_are_shown_with_the_bank_transfer_option(app, monkeypatch):
    page = _fee_owed_page(app)
    monkeypatch.setitem(
        app.config, "PLATFORM_BANK", {"Account name": "LeadFlow PM Inc.", "Account number": "987654321"}
    )
    body = page()
    details = body[body.index('id="platform-bank"') : body.index("</dl>", body.index('id="platform-bank"'))]
    assert "LeadFlow PM Inc." in details and "987654321" in details and "Direct deal" in details
    monkeypatch.setitem(app.config, "PLATFORM_BANK", {})
    assert "Ask the platform's admins for its bank details" in page()


def test_make_run_shows_demo_bank_details():
    from config import DEMO_PLATFORM_BANK, DevelopmentConfig

    assert DevelopmentConfig.PLATFORM_BANK  # from PLATFORM_BANK_* or the demo stand-in, never empty
    assert set(DEMO_PLATFORM_BANK) >= {"Account name", "Account number"}


def test_going_back_from_the_confirmation_keeps_the_ticks_and_their_summary(app):
    _cp, (t1, t2, _t3), client = _world(app)
    review = client.get(
        "/admin/platform-fees/settle/review", query_string={"transaction_ids": [str(t1.id), str(t2.id)]}
    )
    back = re.search(r'href="([^"]+)">← Back to the fee list', review.get_data(as_text=True)).group(1)
    page = client.get(back.replace("&amp;", "&")).get_data(as_text=True)
    assert SUMMARY.search(page).group(1) == "2 selected, $125.00"
    assert re.search(rf'value="{t1.id}" id="pick-{t1.id}"\s+checked', page)
