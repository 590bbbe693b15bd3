"""/admin/platform-fees: the global rule and its history, the fee list, and settling batches by form."""

import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import AuditEvent, Notification, PlatformFeeConfig, PlatformFeeSettlement
from app.models.base import utcnow
from app.money import commissions, fee_filters, fee_queries, fees, payments
from tests import factories
from tests.conftest import login
from tests.fee_support import PDF, assert_reconciles, confirmed, pay_out, settle, slip_upload, won


def admin_client(app):
    admin = factories.make_user("admin", name="Ada Admin")
    db.session.commit()
    return admin, login(app.test_client(), admin)


def test_rule_change_keeps_history_and_only_affects_leads_not_yet_won(app):
    factories.make_fee_config("percentage", "8")
    cp = factories.make_partner()
    admin, client = admin_client(app)
    won_tx = won(cp, admin, commission="1000")
    open_lead = factories.make_lead(cp, kanban_stage="negotiation", commission_amount=Decimal("1000"))
    db.session.commit()
    assert won_tx.platform_fee == Decimal("80.00")

    response = client.post(
        "/admin/platform-fees/rule", data={"fee_type": "percentage", "fee_value": "10", "note": "New pricing 2026"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    rows = db.session.scalars(sa.select(PlatformFeeConfig).order_by(PlatformFeeConfig.effective_from)).all()
    assert [(r.fee_value, r.is_active) for r in rows] == [(Decimal("8.0000"), False), (Decimal("10.0000"), True)]
    assert rows[1].notes == "New pricing 2026" and rows[1].created_by == admin.id
    # The won lead keeps its snapshot; a lead that is later won uses the new rule.
    assert db.session.get(type(won_tx), won_tx.id).platform_fee == Decimal("80.00")
    lead = db.session.get(type(open_lead), open_lead.id)
    lead.kanban_stage = "won"
    tx = commissions.open_for_won_lead(lead, admin)
    assert tx.platform_fee == Decimal("100.00") and tx.fee_rule_value == Decimal("10")
    # The history is shown with author and note; an audit event records before and after.
    page = client.get("/admin/platform-fees").get_data(as_text=True)
    assert "New pricing 2026" in page and "Ada Admin" in page and "Percentage — 10 %" in page
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "platform_fee_rule.changed"))
    assert event.before == {"fee_type": "percentage", "fee_value": "8.00"}
    assert event.after == {"fee_type": "percentage", "fee_value": "10.00"}


def test_fixed_rule_by_htmx_returns_the_rule_partial(app):
    factories.make_fee_config("percentage", "10")
    _admin, client = admin_client(app)
    response = client.post(
        "/admin/platform-fees/rule",
        data={"fee_type": "fixed", "fee_value": "50", "note": "Flat fee"},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="fee-rule"' in body and "<html" not in body and "Fixed amount — $50.00" in body
    assert fees.active_global_rule().type == "fixed"


def test_bad_rule_values_are_refused_with_422_and_nothing_written(app):
    factories.make_fee_config("percentage", "10")
    _admin, client = admin_client(app)
    bad = [
        ("percentage", "101", "between 0 and 100"),
        ("percentage", "-1", "0 or more"),
        ("fixed", "-5", "0 or more"),
        ("fixed", "NaN", "0 or more"),
        ("fixed", "Infinity", "0 or more"),
        ("fixed", "1e30", "too large"),
        ("percentage", "abc", "Enter a number"),
        ("percentage", "1.00001", "four decimal places"),
        ("fixed", "9" * 30, "Field cannot be longer"),
    ]
    for fee_type, value, message in bad:
        response = client.post(
            "/admin/platform-fees/rule", data={"fee_type": fee_type, "fee_value": value, "note": "x"}
        )
        assert response.status_code == 422, value
        assert message in response.get_data(as_text=True), value
    response = client.post("/admin/platform-fees/rule", data={"fee_type": "bogus", "fee_value": "5", "note": "x"})
    assert response.status_code == 422
    response = client.post("/admin/platform-fees/rule", data={"fee_type": "fixed", "fee_value": "5", "note": ""})
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeConfig)) == 1


def test_fee_list_filters_and_flags_overdue(app):
    factories.make_fee_config("percentage", "10")
    a, b = factories.make_partner(company="Alpha Ltd"), factories.make_partner(company="Beta Ltd")
    admin, client = admin_client(app)
    old = won(a, admin, commission="500", title="Old alpha deal", days_ago=45)
    won(a, admin, commission="700", title="Fresh alpha deal")
    beta = won(b, admin, commission="900", title="Beta deal")
    settle(admin, [beta])
    db.session.commit()

    def rows(query):
        body = client.get("/admin/platform-fees" + query).get_data(as_text=True)
        return [t for t in ("Old alpha deal", "Fresh alpha deal", "Beta deal") if t in body], body

    assert rows("")[0] == ["Old alpha deal", "Fresh alpha deal", "Beta deal"]
    assert rows(f"?cp={a.id}")[0] == ["Old alpha deal", "Fresh alpha deal"]
    assert rows("?state=settled")[0] == ["Beta deal"]
    assert rows("?state=outstanding")[0] == ["Old alpha deal", "Fresh alpha deal"]
    found, body = rows("?overdue=1")
    assert found == ["Old alpha deal"] and "Overdue" in body
    assert f'value="{old.id}"' in body  # an outstanding fee has a checkbox
    # Bad filter values are ignored rather than failing.
    assert client.get("/admin/platform-fees?cp=nope&from=2026-99-99&page=abc").status_code == 200
    # An HTMX filter request answers with the table partial only.
    partial = client.get("/admin/platform-fees?state=settled", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="fees-table"' in partial and "<html" not in partial and "Beta deal" in partial


def _settle_form(client, ids, key=None, slip=True, **extra):
    data = {"idempotency_key": key or uuid.uuid4().hex, "note": "March fees", "transaction_ids": [str(i) for i in ids]}
    if slip:
        data["bank_slip"] = slip_upload()
    data.update(extra)
    data = confirmed(client, data)  # what the confirmation step shows and the admin confirms
    return client.post("/admin/platform-fees/settle", data=data, content_type="multipart/form-data")


def test_settle_a_batch_through_the_form(app, mail_outbox):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner(company="Ødegaard & Co.")
    superadmin = factories.make_user("super_admin")
    admin, client = admin_client(app)
    t1, t2, t3 = (won(cp, admin, commission=c) for c in ("1000", "250", "333.33"))
    db.session.commit()

    response = _settle_form(client, [t1.id, t2.id])
    assert response.status_code == 302
    settlement = db.session.scalar(sa.select(PlatformFeeSettlement))
    assert settlement.amount == Decimal("125.00") and settlement.lead_count == 2
    assert sorted(i.amount for i in settlement.items) == [Decimal("25.00"), Decimal("100.00")]
    assert settlement.notes == "March fees" and settlement.bank_slip.kind == "bank_slip"
    totals = assert_reconciles()
    assert (totals.settled, totals.outstanding) == (Decimal("125.00"), Decimal("33.33"))
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == superadmin.id))
    assert note.message == "Admin settled $125.00 platform fee covering 2 leads. Receipt is attached."
    assert note.link == f"/super/settlements/{settlement.id}"
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("platform_fee.settled") == 2 and "platform_fee_settlement.created" in actions
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "$125.00" in detail and "Ødegaard &amp; Co." in detail and "slip.pdf" in detail
    receipt = client.get(f"/admin/platform-fees/settlements/{settlement.id}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf" and receipt.data.startswith(b"%PDF")
    assert t3.id not in {i.transaction_id for i in settlement.items}


def test_a_settled_or_void_fee_refuses_the_whole_batch_with_409(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin, client = admin_client(app)
    t1, t2 = (won(cp, admin, title=f"Deal {n}") for n in range(2))
    t3, t4 = (won(cp, admin, title=f"Deal {n}", paid=False) for n in range(2, 4))
    settle(admin, [t1])
    commissions.void_for_lead(t3.lead, admin)
    db.session.commit()

    response = _settle_form(client, [t1.id, t2.id])
    assert response.status_code == 409
    assert "has already been settled" in response.get_data(as_text=True) and "Deal 0" in response.get_data(as_text=True)
    response = _settle_form(client, [t2.id, t3.id])
    assert response.status_code == 409 and "is void" in response.get_data(as_text=True)
    response = _settle_form(client, [t2.id, t4.id])  # t4's client has not paid yet
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Deal 3" in body and "waiting for the client payment" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement)) == 1
    assert fee_queries.totals().outstanding == Decimal("200.00")
    # The page offers a checkbox only for fees that are ready, and says why the others wait.
    page = client.get("/admin/platform-fees").get_data(as_text=True)
    assert f'value="{t2.id}"' in page and f'value="{t4.id}"' not in page
    assert "Waiting for the client payment" in page


def test_the_form_needs_a_slip_a_choice_and_a_valid_file(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin, client = admin_client(app)
    tx = won(cp, admin)
    db.session.commit()
    assert _settle_form(client, [tx.id], slip=False).status_code == 422
    response = _settle_form(client, [])
    assert response.status_code == 422 and "Choose at least one" in response.get_data(as_text=True)
    response = _settle_form(client, ["not-a-uuid"])
    assert response.status_code == 422
    bad = client.post(
        "/admin/platform-fees/settle",
        data={
            "idempotency_key": uuid.uuid4().hex,
            "transaction_ids": [str(tx.id)],
            "bank_slip": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "slip.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement)) == 0


def test_double_submitted_form_settles_once(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin, client = admin_client(app)
    tx = won(cp, admin)
    db.session.commit()
    page = client.get("/admin/platform-fees/settle/review", query_string={"transaction_ids": str(tx.id)})
    page = page.get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    data = confirmed(client, {"idempotency_key": key, "note": "March fees", "transaction_ids": [str(tx.id)]})
    first, second = (
        client.post("/admin/platform-fees/settle", data={**data, "bank_slip": slip_upload()}) for _ in range(2)
    )
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement)) == 1
    assert fee_queries.totals().settled == Decimal("100.00")


def test_select_all_matching_the_filter_is_resolved_on_the_server(app):
    factories.make_fee_config("percentage", "10")
    a, b = factories.make_partner(), factories.make_partner()
    admin, client = admin_client(app)
    a_txs = [won(a, admin, commission="100") for _ in range(30)]  # more than one page
    b_tx = won(b, admin, commission="100")
    db.session.commit()
    response = _settle_form(client, [], select_all="y", cp=str(a.id))
    assert response.status_code == 302
    settlement = db.session.scalar(sa.select(PlatformFeeSettlement))
    assert settlement.lead_count == 30 and settlement.amount == Decimal("300.00")
    assert {i.transaction_id for i in settlement.items} == {t.id for t in a_txs}
    assert b_tx.id not in {i.transaction_id for i in settlement.items}
    assert_reconciles()


def test_the_ready_to_settle_count_follows_each_fee_from_won_to_settled(app):
    """The count beside "settle every fee matching the filter" comes from the rollups: it follows a fee through
    the client payment, the settlement to the partner, a partner paying its own fee, and the batch, and equals
    the fees the button would settle (counted over the rows) for the whole platform, a partner and a date range."""
    factories.make_fee_config("percentage", "10")
    a, b = factories.make_partner(), factories.make_partner()
    admin, client = admin_client(app)

    def shown(**filters) -> int:
        body = client.get("/admin/platform-fees", query_string=filters).get_data(as_text=True)
        return int(re.search(r"that is ready to settle \((\d+) fees?\)", body).group(1))

    def settled_by_button(**filters) -> int:
        return len(fee_queries.matching_outstanding_ids(fee_filters.parse_filter(filters)))

    def check(platform: int, of_a: int, of_b: int) -> None:
        db.session.commit()
        assert shown() == settled_by_button() == platform
        assert shown(cp=str(a.id)) == settled_by_button(cp=str(a.id)) == of_a
        assert shown(cp=str(b.id)) == settled_by_button(cp=str(b.id)) == of_b

    waiting = won(a, admin, paid=False)
    ready_a = [won(a, admin), won(a, admin, days_ago=40)]
    won(b, admin)
    direct = won(b, admin, paid=False)
    check(3, 2, 1)
    pay_out(waiting, admin)
    check(4, 3, 1)
    commissions.flag_paid_directly(direct, admin, utcnow().date())  # the partner now owes the fee itself
    check(4, 3, 1)
    receipt = FileStorage(io.BytesIO(PDF), filename="receipt.pdf", content_type="application/pdf")
    payments.review_bank_transfer(payments.submit_bank_transfer(direct, b.user, receipt), admin, approve=True)
    check(5, 3, 2)
    assert shown(overdue="1") == settled_by_button(overdue="1") == 1  # the one won 40 days ago
    settle(admin, ready_a)
    check(3, 1, 2)
    body = client.get("/admin/platform-fees").get_data(as_text=True)  # its rows were drawn outstanding before
    row = body[body.index(f'id="fee-{ready_a[0].id}"') :]
    assert "Settled " in row[: row.index("</tr>")] and f'value="{ready_a[0].id}"' not in body
    recent = {"from": (utcnow() - timedelta(days=10)).date().isoformat()}
    assert shown(**recent) == settled_by_button(**recent) == 3
    assert shown(overdue="1") == settled_by_button(overdue="1") == 0


def test_settled_history_links_slip_and_receipt(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin, client = admin_client(app)
    settlement = settle(admin, [won(cp, admin)], note="Q1")
    db.session.commit()
    for path in ("/admin/platform-fees", "/admin/platform-fees/settlements"):
        body = client.get(path).get_data(as_text=True)
        assert f"/files/{settlement.bank_slip_file_id}" in body and ">slip.pdf</a>" in body
        assert "<td>Ada Admin</td>" in body and '<td class="small">Q1</td>' in body  # who settled it, the note
        assert f"/admin/platform-fees/settlements/{settlement.id}/receipt.pdf" in body
    assert client.get(f"/files/{settlement.bank_slip_file_id}").data == PDF


def test_settlement_pages_answer_htmx_with_their_partial(app):
    factories.make_fee_config("percentage", "10")
    cp = factories.make_partner()
    admin, client = admin_client(app)
    settlement = settle(admin, [won(cp, admin)])
    db.session.commit()
    for path in ("/admin/platform-fees/settlements", "/admin/platform-fees?page=1"):
        body = client.get(path, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "<html" not in body and str(settlement.id) in body


def test_many_partners_are_filtered_by_a_name_search_instead_of_a_list(app, monkeypatch):
    """Past PICKER_LIMIT partners the filter is a search box (no 10,000-option menu); a name narrows the list."""
    monkeypatch.setattr(fee_queries, "PICKER_LIMIT", 1)
    factories.make_fee_config("percentage", "10")
    a, b = factories.make_partner(company="Alpha 50% Ltd"), factories.make_partner(company="Beta Ltd")
    admin, client = admin_client(app)
    won(a, admin, commission="500", title="Alpha deal")
    won(b, admin, commission="900", title="Beta deal")
    db.session.commit()

    def rows(query):
        body = client.get("/admin/platform-fees" + query).get_data(as_text=True)
        return [t for t in ("Alpha deal", "Beta deal") if t in body], body

    found, body = rows("")
    assert found == ["Alpha deal", "Beta deal"]
    assert 'id="filter-partner"' in body and 'id="filter-cp"' not in body
    found, body = rows("?partner=alpha+50%25")
    assert found == ["Alpha deal"] and 'value="alpha 50%"' in body
    assert rows("?partner=BETA+LTD")[0] == ["Beta deal"]
    assert rows("?partner=50%25+Beta")[0] == []  # no such partner: nothing, not everything
    assert rows("?partner=_")[0] == []  # LIKE wildcards are matched literally
    assert rows(f"?cp={b.id}")[0] == ["Beta deal"]  # links by id keep working
    super_admin = factories.make_user("super_admin")
    db.session.commit()
    super_client = login(app.test_client(), super_admin)
    body = super_client.get("/super/outstanding?partner=beta").get_data(as_text=True)
    assert 'id="filter-partner"' in body and "Beta deal" in body and "Alpha deal" not in body


def statements_for(client, url: str) -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_the_rule_history_shows_every_author_without_a_query_per_rule(app):
    _admin, client = admin_client(app)
    for n in range(1, 3):
        fees.set_global_rule("percentage", Decimal(n), f"rule {n}", factories.make_user("admin", name=f"Author {n}"))
    db.session.commit()
    few = statements_for(client, "/admin/platform-fees")
    for n in range(3, 9):
        fees.set_global_rule("percentage", Decimal(n), f"rule {n}", factories.make_user("admin", name=f"Author {n}"))
    db.session.commit()
    page = client.get("/admin/platform-fees").get_data(as_text=True)
    assert all(f"Author {n}" in page for n in range(1, 9))
    assert statements_for(client, "/admin/platform-fees") == few
