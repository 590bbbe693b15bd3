"""Lead pages through the test client: permissions, HTMX and plain stage changes, stale pages, live fee
preview, kanban moves, evidence, admin allocation, super admin deletion, and the board's query count."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.leads import filters as lead_filters
from app.leads import queries as lead_queries
from app.models import AuditEvent, Category, CategoryField, CommissionTransaction, Lead, LeadEvidence, LeadNote
from app.models.base import utcnow
from app.portals.lead_forms import prefix_for
from tests import factories
from tests.conftest import login

HX = {"HX-Request": "true"}


@pytest.fixture
def world(app):
    factories.make_fee_config("percentage", "10")
    admin = factories.make_user("admin")
    owner = factories.make_user("super_admin")
    cp = factories.make_partner(company="Northwind")
    other = factories.make_partner(company="Other Co")
    lead = factories.make_lead(assignee=cp, title="Assigned deal", lead_value="10000", commission_amount="1000")
    originated = factories.make_lead(originator=cp, title="Only originated")
    foreign = factories.make_lead(assignee=other, title="Someone else's")
    db.session.commit()
    return {
        "admin": admin,
        "super": owner,
        "cp": cp,
        "other": other,
        "lead": lead,
        "originated": originated,
        "foreign": foreign,
    }


def client_for(app, user):
    return login(app.test_client(), user)


def fields(lead, **values):
    prefix = prefix_for(lead)
    return {f"{prefix}-{name}": value for name, value in values.items()}


def fresh(lead_id):
    db.session.expire_all()
    return db.session.get(Lead, lead_id)


def test_the_assigned_list_shows_only_the_partners_assigned_leads(app, world):
    body = client_for(app, world["cp"].user).get("/cp/leads/assigned").get_data(as_text=True)
    assert "Assigned deal" in body
    assert "Only originated" not in body and "Someone else" not in body
    assert "Platform fee" in body and "Net commission" in body


def test_an_originated_lead_is_read_only(app, world):
    client, lead = client_for(app, world["cp"].user), world["originated"]
    page = client.get(f"/cp/leads/{lead.id}")
    assert page.status_code == 200 and "read-only" in page.get_data(as_text=True)
    assert 'name="' + prefix_for(lead) + '-stage"' not in page.get_data(as_text=True)
    for path in ("stage", "amounts", "notes", "evidence"):
        assert client.post(f"/cp/leads/{lead.id}/{path}", data={}).status_code == 403
    assert client.get(f"/cp/leads/{lead.id}/fee-preview").status_code == 403


def test_another_partners_lead_is_missing_for_every_verb(app, world):
    client, lead = client_for(app, world["cp"].user), world["foreign"]
    assert client.get(f"/cp/leads/{lead.id}").status_code == 404
    assert client.get(f"/cp/leads/{lead.id}/fee-preview").status_code == 404
    for path in ("stage", "amounts", "notes", "evidence"):
        assert (
            client.post(f"/cp/leads/{lead.id}/{path}", data=fields(lead, stage="won", version="1")).status_code == 404
        )
    moved = client.post("/cp/leads/assigned/kanban/won", data={"card": f"{lead.id}:1"}, headers=HX)
    assert moved.status_code == 200 and fresh(lead.id).kanban_stage == "new"


def test_stage_change_by_htmx_answers_with_the_row_only(app, world):
    lead = world["lead"]
    data = {**fields(lead, stage="contacted", version=str(lead.version)), "context": "row"}
    response = client_for(app, world["cp"].user).post(f"/cp/leads/{lead.id}/stage", data=data, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tbody id="lead-{lead.id}"') and "<html" not in body
    assert len(body) < 20_000
    assert fresh(lead.id).kanban_stage == "contacted"


def test_stage_change_by_full_form_post_redirects_back(app, world):
    lead = world["lead"]
    data = {**fields(lead, stage="qualified", version=str(lead.version)), "next": "/cp/leads/assigned?sort=title"}
    response = client_for(app, world["cp"].user).post(f"/cp/leads/{lead.id}/stage", data=data)
    assert response.status_code == 302 and response.location.endswith("/cp/leads/assigned?sort=title")
    assert fresh(lead.id).kanban_stage == "qualified"


def test_a_stale_page_does_not_overwrite(app, world):
    lead, stale_version = world["lead"], str(world["lead"].version)
    admin = client_for(app, world["admin"])
    admin.post(f"/admin/leads/{lead.id}/stage", data=fields(lead, stage="proposal", version=stale_version))
    cp = client_for(app, world["cp"].user)
    data = {**fields(lead, stage="contacted", version=stale_version), "context": "row"}
    response = cp.post(f"/cp/leads/{lead.id}/stage", data=data, headers=HX)
    assert response.status_code == 409
    assert "changed by someone else" in response.get_data(as_text=True)
    assert fresh(lead.id).kanban_stage == "proposal"
    plain = cp.post(
        f"/cp/leads/{lead.id}/amounts", data=fields(lead, lead_value="1", commission_amount="1", version=stale_version)
    )
    assert plain.status_code == 409 and fresh(lead.id).commission_amount == Decimal("1000.00")


def test_lost_from_the_dropdown_asks_for_a_reason(app, world):
    lead, client = world["lead"], client_for(app, world["cp"].user)
    data = {**fields(lead, stage="lost", version=str(lead.version)), "context": "row"}
    asked = client.post(f"/cp/leads/{lead.id}/stage", data=data, headers=HX)
    assert asked.status_code == 422 and "Say why the lead was lost" in asked.get_data(as_text=True)
    assert fresh(lead.id).kanban_stage == "new"
    data.update(fields(lead, lost_reason="Budget cut"))
    assert client.post(f"/cp/leads/{lead.id}/stage", data=data, headers=HX).status_code == 200
    assert fresh(lead.id).lost_reason == "Budget cut"


def test_fee_preview_names_the_rule_and_saves_nothing(app, world):
    lead, client = world["lead"], client_for(app, world["cp"].user)
    response = client.get(f"/cp/leads/{lead.id}/fee-preview", query_string=fields(lead, commission_amount="2000"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "$200.00" in body and "$1,800.00" in body and "global 10 %" in body
    assert fresh(lead.id).commission_amount == Decimal("1000.00")


@pytest.mark.parametrize("bad", ["NaN", "inf", "-5", "1e99", "10.001", "99999999999999", "x" * 500])
def test_fee_preview_refuses_bad_input_beside_the_field(app, world, bad):
    lead = world["lead"]
    client = client_for(app, world["cp"].user)
    response = client.get(f"/cp/leads/{lead.id}/fee-preview", query_string=fields(lead, commission_amount=bad))
    assert response.status_code == 422
    assert f'id="{prefix_for(lead)}-commission_amount-live"' in response.get_data(as_text=True)


def test_admin_preview_of_an_override_says_overridden_and_capped(app, world):
    lead = world["lead"]
    query = fields(lead, commission_amount="30", override_type="fixed", override_value="50")
    body = client_for(app, world["admin"]).get(f"/admin/leads/{lead.id}/fee-preview", query_string=query)
    text = body.get_data(as_text=True)
    assert "overridden fixed $50.00" in text and "capped" in text and "$30.00" in text and "$0.00" in text


def test_amounts_form_rejects_nan_with_422_and_writes_nothing(app, world):
    lead = world["lead"]
    data = {**fields(lead, lead_value="NaN", commission_amount="5", version=str(lead.version)), "context": "panel"}
    response = client_for(app, world["cp"].user).post(f"/cp/leads/{lead.id}/amounts", data=data, headers=HX)
    assert response.status_code == 422 and "Enter an amount" in response.get_data(as_text=True)
    assert fresh(lead.id).commission_amount == Decimal("1000.00")


def test_kanban_move_answers_with_the_card_and_the_column_heads_only(app, world):
    lead = world["lead"]
    response = client_for(app, world["cp"].user).post(
        "/cp/leads/assigned/kanban/contacted", data={"card": f"{lead.id}:{lead.version}"}, headers=HX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "<form" not in body
    assert f'<div id="card-{lead.id}" hx-swap-oob="delete">' in body
    assert re.search(r'hx-swap-oob="afterbegin:#list-contacted">\s*<div class="kanban-card card" id="card-', body)
    assert f'value="{lead.id}:{lead.version + 1}"' in body  # the card carries its new version
    new_head = re.search(r'id="column-head-new" hx-swap-oob="true">.*?data-count>(\d+)<', body, re.S)
    moved_head = re.search(
        r'id="column-head-contacted" hx-swap-oob="true">.*?data-count>(\d+)<.*?data-total>([^<]+)<', body, re.S
    )
    assert new_head.group(1) == "0" and moved_head.group(1) == "1" and moved_head.group(2) == "$10,000.00"
    assert body.count("kanban-card card") == 1  # small: not whole columns
    assert fresh(lead.id).kanban_stage == "contacted"


def test_kanban_move_to_lost_asks_for_a_reason_and_puts_the_card_back(app, world):
    lead = world["lead"]
    response = client_for(app, world["cp"].user).post(
        "/cp/leads/assigned/kanban/lost", data={"card": f"{lead.id}:{lead.version}"}, headers=HX
    )
    body = response.get_data(as_text=True)
    assert "Why was “Assigned deal” lost?" in body and 'hx-swap-oob="afterbegin:#list-new"' in body
    assert fresh(lead.id).kanban_stage == "new"


def test_a_failed_kanban_move_puts_the_card_back_and_says_why(app, world):
    lead = world["lead"]
    response = client_for(app, world["cp"].user).post(
        "/cp/leads/assigned/kanban/won", data={"card": f"{lead.id}:{lead.version + 5}"}, headers=HX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "changed by someone else" in body
    assert f'<div id="card-{lead.id}" hx-swap-oob="delete">' in body
    assert re.search(r'hx-swap-oob="afterbegin:#list-new">\s*<div class="kanban-card card" id="card-', body)
    assert fresh(lead.id).kanban_stage == "new"


def test_the_lost_dialog_moves_the_card_and_closes(app, world):
    lead = world["lead"]
    data = {**fields(lead, stage="lost", version=lead.version, lost_reason="Budget cut"), "context": "board"}
    response = client_for(app, world["cp"].user).post(f"/cp/leads/{lead.id}/stage", data=data, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="kanban-dialog"></div>')
    assert 'hx-swap-oob="afterbegin:#list-lost"' in body and 'id="column-head-lost" hx-swap-oob="true"' in body
    assert fresh(lead.id).kanban_stage == "lost" and fresh(lead.id).lost_reason == "Budget cut"


def test_evidence_upload_and_gallery(app, world):
    lead, client = world["lead"], client_for(app, world["cp"].user)
    image = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 200, 10)).save(image, "PNG")
    data = {**fields(lead, description="Site photo"), "context": "row"}
    data[f"{prefix_for(lead)}-file"] = (io.BytesIO(image.getvalue()), "site.png")
    response = client.post(f"/cp/leads/{lead.id}/evidence", data=data, headers=HX, content_type="multipart/form-data")
    assert response.status_code == 200
    evidence = db.session.scalar(sa.select(LeadEvidence).where(LeadEvidence.lead_id == lead.id))
    assert evidence.file_type == "image" and f"/files/{evidence.file_id}" in response.get_data(as_text=True)
    assert client.get(f"/files/{evidence.file_id}").status_code == 200
    bad = {**fields(lead), "context": "row", f"{prefix_for(lead)}-file": (io.BytesIO(b"MZ\x90\x00"), "x.png")}
    refused = client.post(f"/cp/leads/{lead.id}/evidence", data=bad, headers=HX, content_type="multipart/form-data")
    assert refused.status_code == 422


def test_admin_creates_and_allocates_a_lead(app, world):
    client, cp = client_for(app, world["admin"]), world["cp"]
    response = client.post(
        "/admin/leads/new",
        data={
            "title": "Fresh lead",
            "first_name": "Ana",
            "last_name": "Ruiz",
            "contact_email": "ana@ruiz.example",
            "lead_value": "5000",
            "commission_amount": "500",
            "partner": str(cp.id),
            "override_type": "fixed",
            "override_value": "50",
        },
    )
    assert response.status_code == 302
    lead = db.session.scalar(sa.select(Lead).where(Lead.title == "Fresh lead"))
    assert (lead.channel, lead.intake_status, lead.reviewed_by) == ("admin", "distributed", world["admin"].id)
    assert (lead.allocated_to, lead.platform_fee_amount, lead.net_commission) == (
        cp.id,
        Decimal("50.00"),
        Decimal("450.00"),
    )
    assert "overridden" in client.get(f"/admin/leads/{lead.id}").get_data(as_text=True)
    other = world["other"]
    moved = client.post(
        f"/admin/leads/{lead.id}/allocate",
        data={"allocate-partner": str(other.id), "allocate-version": str(lead.version), "allocate-override_type": ""},
    )
    assert moved.status_code == 302 and fresh(lead.id).allocated_to == other.id


def test_admin_entry_shows_the_categorys_own_fields_and_checks_them(app, world):
    client = client_for(app, world["admin"])
    category = factories.make_category("Solar")
    db.session.add(
        CategoryField(category_id=category.id, key="roof", label="Roof size m2", field_type="number", required=True)
    )
    db.session.commit()
    page = client.get("/admin/leads/new", query_string={"category": str(category.id)}, headers=HX)
    assert 'name="cf_roof"' in page.get_data(as_text=True) and "Roof size m2 (required)" in page.get_data(as_text=True)
    data = {
        "category": str(category.id),
        "first_name": "Bo",
        "last_name": "Li",
        "contact_phone": "+44 20 7946 0958",
        "override_type": "",
    }
    refused = client.post("/admin/leads/new", data={**data, "cf_roof": "big"})
    assert refused.status_code == 422 and "Enter a number." in refused.get_data(as_text=True)
    assert client.post("/admin/leads/new", data={**data, "cf_roof": "1,200"}).status_code == 302
    lead = db.session.scalar(sa.select(Lead).where(Lead.first_name == "Bo"))
    assert (lead.custom_fields, lead.phone_e164, lead.title) == ({"roof": "1200"}, "+442079460958", "Bo Li")


def test_admin_list_filters_and_sorts(app, world):
    client = client_for(app, world["admin"])
    body = client.get("/admin/leads", query_string={"cp": str(world["other"].id)}).get_data(as_text=True)
    assert "Someone else" in body and "Assigned deal" not in body
    body = client.get("/admin/leads", query_string={"sort": "title", "dir": "asc", "q": "deal"}).get_data(as_text=True)
    assert "Assigned deal" in body and "Only originated" not in body
    assert client.get("/admin/leads", query_string={"sort": "'; drop", "from": "nope", "page": "-3"}).status_code == 200


def test_only_the_super_admin_deletes_and_a_lead_with_money_recorded_needs_two_confirmations(app, world):
    lead = world["lead"]
    assert client_for(app, world["admin"]).delete(f"/super/leads/{lead.id}?confirm=yes").status_code == 403
    with app.test_request_context():
        from app.leads import pipeline

        pipeline.change_stage(db.session.get(Lead, lead.id), "won", world["admin"], lead.version)
        db.session.scalar(sa.select(CommissionTransaction)).status = "due"  # the client payment was recorded
        db.session.commit()
    owner = client_for(app, world["super"])
    first = owner.delete(f"/super/leads/{lead.id}", query_string={"confirm": "yes"}, headers=HX)
    assert first.status_code == 409 and "Confirm a second time" in first.get_data(as_text=True)
    assert fresh(lead.id) is not None
    second = owner.post(f"/super/leads/{lead.id}/delete", data={"confirm": "yes", "confirm_again": "yes"})
    assert second.status_code == 302 and fresh(lead.id) is None
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lead.deleted"))
    assert event.before["title"] == "Assigned deal" and event.before["commission_amount"] == "1000.00"


def _count_queries(client, path):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements), response


def test_the_board_uses_a_bounded_number_of_queries(app, world):
    cp, client = world["cp"], client_for(app, world["cp"].user)
    stages = ("new", "contacted", "qualified", "proposal", "negotiation", "won", "lost")
    for n in range(19):
        factories.make_lead(assignee=cp, title=f"Card {n}", kanban_stage=stages[n % 7], lead_value="100")
    db.session.commit()
    small, _ = _count_queries(client, "/cp/leads/assigned/kanban")
    for n in range(180):
        factories.make_lead(assignee=cp, title=f"More {n}", kanban_stage=stages[n % 7], lead_value="100")
    db.session.commit()
    large, response = _count_queries(client, "/cp/leads/assigned/kanban")
    body = response.get_data(as_text=True)
    per_column = lead_queries.COLUMN_PAGE
    assert body.count('class="kanban-card card"') == 7 * per_column  # 200 leads: each column shows its first page
    assert body.count(">Show more</button>") == 7
    assert re.search(r'id="column-head-new"[^>]*>.*?data-count>30<.*?data-total>\$12,900\.00<', body, re.S)
    assert large == small, f"{small} queries for 20 cards but {large} for 200"
    admin_small, _ = _count_queries(client_for(app, world["admin"]), "/admin/leads/kanban")
    assert admin_small < 25


def _column_cards(body):
    return re.findall(r'class="kanban-card card" id="card-([0-9a-f-]+)"', body)


def test_show_more_loads_the_rest_of_a_column_once_each(app, world):
    cp, client = world["cp"], client_for(app, world["cp"].user)
    for n in range(60):
        factories.make_lead(assignee=cp, title=f"Deal {n}", kanban_stage="proposal", lead_value="100")
    db.session.commit()
    board = client.get("/cp/leads/assigned/kanban").get_data(as_text=True)
    column = board[board.index('id="column-proposal"') : board.index('id="column-negotiation"')]
    seen = _column_cards(column)
    link = re.search(r'hx-get="([^"]+)" hx-target="#list-proposal"', column).group(1).replace("&amp;", "&")
    while link:
        page = client.get(link, headers=HX)
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and "<html" not in body and 'id="more-proposal" hx-swap-oob="true"' in body
        seen += _column_cards(body)
        found = re.search(r'hx-get="([^"]+)" hx-target="#list-proposal"', body)
        link = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == len(set(seen)) == 60
    expected = db.session.scalars(
        sa.select(Lead.id).where(Lead.kanban_stage == "proposal").order_by(Lead.updated_at.desc(), Lead.id.desc())
    ).all()
    assert seen == [str(i) for i in expected]
    other = client_for(app, world["other"].user).get(link or "/cp/leads/assigned/kanban/proposal/more", headers=HX)
    assert "Deal" not in other.get_data(as_text=True)  # another partner's "more" shows only its own cards


def test_the_list_row_loads_notes_and_evidence_when_opened(app, world):
    lead, client = world["lead"], client_for(app, world["cp"].user)
    client.post(f"/cp/leads/{lead.id}/notes", data=fields(lead, body="Called the buyer"), headers=HX)
    listing = client.get("/cp/leads/assigned").get_data(as_text=True)
    assert "Called the buyer" not in listing and f'hx-get="/cp/leads/{lead.id}/row"' in listing
    details = client.get(f"/cp/leads/{lead.id}/row", headers=HX).get_data(as_text=True)
    assert "Called the buyer" in details and "Upload evidence" in details and "Commission amount" in details
    assert client.get(f"/cp/leads/{world['foreign'].id}/row", headers=HX).status_code == 404
    assert client.get(f"/cp/leads/{lead.id}/row").status_code == 302  # opened directly: the lead's page


def test_the_list_query_count_does_not_grow_with_notes_and_evidence(app, world):
    cp, client = world["cp"], client_for(app, world["cp"].user)
    small, _ = _count_queries(client, "/cp/leads/assigned")
    for n in range(30):
        lead = factories.make_lead(assignee=cp, title=f"Row {n}", lead_value="100")
        db.session.add(LeadNote(lead_id=lead.id, author_id=cp.user.id, body="note"))
    db.session.commit()
    large, response = _count_queries(client, "/cp/leads/assigned")
    assert large == small and response.get_data(as_text=True).count('class="lead-row"') == lead_queries.PAGE_SIZE


def test_the_partner_filter_suggests_at_most_ten_partners(app, world):
    for n in range(12):
        factories.make_partner(company=f"Northwind Branch {n:02}")
    db.session.commit()
    client = client_for(app, world["admin"])
    body = client.get("/admin/leads/partners", query_string={"partner": "northw"}, headers=HX).get_data(as_text=True)
    picks = re.findall(r'data-partner-pick="([0-9a-f-]+)">([^<]+)<', body)
    assert len(picks) == 10 and picks[0] == (str(world["cp"].id), "Northwind")  # the name starting so comes first
    none = client.get("/admin/leads/partners", query_string={"partner": "%_zz"}, headers=HX).get_data(as_text=True)
    assert "No partner matches" in none and "data-partner-pick" not in none
    page = client.get("/admin/leads", query_string={"cp": str(world["other"].id)}).get_data(as_text=True)
    assert 'name="cp" value="{}"'.format(world["other"].id) in page and 'value="Other Co"' in page
    assert "<option" not in page.split('id="f-category"')[0].split('id="f-cp-name"')[1]  # no 10,000-option select


def test_a_kanban_move_runs_the_same_queries_whatever_the_board_size(app, world):
    cp, client = world["cp"], client_for(app, world["cp"].user)

    def move(lead, stage):
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            answer = client.post(
                f"/cp/leads/assigned/kanban/{stage}", data={"card": f"{lead.id}:{lead.version}"}, headers=HX
            )
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert answer.status_code == 200 and len(answer.get_data()) < 4000  # the card and two heads, not columns
        return len(statements)

    first = factories.make_lead(assignee=cp, title="First", kanban_stage="contacted")
    db.session.commit()
    small = move(first, "qualified")
    for n in range(150):
        factories.make_lead(assignee=cp, title=f"Busy {n}", kanban_stage=("contacted", "qualified")[n % 2])
    second = factories.make_lead(assignee=cp, title="Second", kanban_stage="contacted")
    db.session.commit()
    assert move(second, "qualified") == small


def _row_ids(body):
    return re.findall(r'<tbody id="lead-([0-9a-f-]+)" class="lead-row">', body)


@pytest.mark.parametrize("sort", sorted(lead_filters.SORTS))
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_each_sort_pages_through_the_leads_as_a_plain_query_orders_them(app, world, sort, direction):
    """The list reads a page of plain rows (sorted and limited first, then joined to the names): every sort, both
    ways, with blank amounts and ties, pages through the leads as one plain ORDER BY over the leads would."""
    cp, other = world["cp"], world["other"]
    categories = [factories.make_category(name) for name in ("beta", "Alpha", "gamma")]
    stages = ("new", "contacted", "qualified", "proposal", "negotiation", "won", "lost")
    for n in range(40):
        factories.make_lead(
            assignee=(cp, other, None)[n % 3],
            originator=cp if n % 5 in (1, 3) else None,  # some of them allocated to cp too, most elsewhere
            title=f"{'Deal' if n % 2 else 'deal'} {n % 7}",
            category_id=categories[n % 4].id if n % 4 < 3 else None,
            kanban_stage=stages[n % 7],
            lead_value=None if n % 5 == 0 else str(100 * (n % 6)),
            commission_amount=None if n % 4 == 0 else str(10 * (n % 3)),
        )
    db.session.commit()
    filters = lead_filters.LeadFilters(sort=sort, direction=direction)
    column = lead_filters.SORTS[sort]
    order = column.asc() if direction == "asc" else column.desc()
    if sort not in lead_filters.NEVER_NULL_SORTS:
        order = order.nulls_last()
    query = sa.select(Lead.id).outerjoin(Category, Category.id == Lead.category_id).order_by(order, Lead.id)
    expected = [str(i) for i in db.session.scalars(query)]
    client = client_for(app, world["admin"])
    seen = []
    for page in (1, 2):
        args = {**filters.args(), "page": page}
        seen += _row_ids(client.get("/admin/leads", query_string=args).get_data(as_text=True))
    assert seen == expected
    partners = query.where(sa.or_(Lead.allocated_to == cp.id, Lead.originated_by == cp.id))  # the admin's cp filter
    seen = []
    for page in (1, 2):
        args = {**filters.args(), "cp": str(cp.id), "page": page}
        body = client.get("/admin/leads", query_string=args).get_data(as_text=True)
        seen += _row_ids(body)
    assert seen == [str(i) for i in db.session.scalars(partners)]
    assert f"{len(seen)} leads<" in body
    mine = [str(i) for i in db.session.scalars(query.where(Lead.allocated_to == cp.id))]
    body = client_for(app, cp.user).get("/cp/leads/assigned", query_string=filters.args()).get_data(as_text=True)
    assert _row_ids(body) == mine[: lead_queries.PAGE_SIZE]


def test_the_list_filters_combine_and_rows_show_the_category_and_partner(app, world):
    cp, lead = world["cp"], world["lead"]
    category = factories.make_category("Solar")
    lead.category_id, lead.kanban_stage, lead.contact_company = category.id, "proposal", "Acme Roofing"
    factories.make_lead(assignee=cp, title="Same stage, no category", kanban_stage="proposal")
    db.session.commit()
    client = client_for(app, world["admin"])
    today = lead.created_at.date().isoformat()
    args = {"stage": "proposal", "allocation": "allocated", "cp": str(cp.id), "category": str(category.id),
            "from": today, "to": today, "q": "ACME"}  # fmt: skip
    body = client.get("/admin/leads", query_string=args).get_data(as_text=True)
    assert _row_ids(body) == [str(lead.id)] and "1 lead<" in body
    row = body[body.index(f'id="lead-{lead.id}"') :]
    assert '<td class="lead-category-cell" data-label="Category" title="Solar">Solar</td>' in row
    assert '<td class="small" data-label="Partner">Northwind</td>' in row
    unallocated = factories.make_lead(title="Nobody's yet")
    db.session.commit()
    body = client.get("/admin/leads", query_string={"allocation": "pending"}).get_data(as_text=True)
    row = body[body.index(f'id="lead-{unallocated.id}"') :]
    assert '<td class="lead-category-cell" data-label="Category" title="">—</td>' in row
    assert '<td class="small" data-label="Partner">Unallocated</td>' in row
    assert "No leads match." in client.get("/admin/leads", query_string={"q": "no such lead"}).get_data(as_text=True)


def test_the_staff_board_names_each_cards_partner_and_pages_its_columns(app, world):
    for n in range(lead_queries.COLUMN_PAGE + 3):
        factories.make_lead(title=f"Open {n}", kanban_stage="qualified")
    db.session.commit()
    client = client_for(app, world["admin"])
    board = client.get("/admin/leads/kanban").get_data(as_text=True)
    card = board[board.index(f'id="card-{world["lead"].id}"') :].split('class="kanban-card card"')[0]
    assert '<div class="small text-muted text-truncate">Northwind</div>' in card
    column = board[board.index('id="column-qualified"') : board.index('id="column-proposal"')]
    assert len(_column_cards(column)) == lead_queries.COLUMN_PAGE and "Unallocated" in column
    link = re.search(r'hx-get="([^"]+)" hx-target="#list-qualified"', column).group(1).replace("&amp;", "&")
    more = client.get(link, headers=HX).get_data(as_text=True)
    assert len(_column_cards(more)) == 3 and "Unallocated" in more and "Show more" not in more
    narrowed = client.get("/admin/leads/kanban", query_string={"cp": str(world["cp"].id)}).get_data(as_text=True)
    assert "Assigned deal" in narrowed and "Open 1" not in narrowed and "Only originated" in narrowed


def test_a_redrawn_board_shows_each_cards_latest_title_value_age_and_partner(app, world):
    """Cards are memoized on what they show: a card changes on the next board as soon as any of it changes."""
    admin, cp = client_for(app, world["admin"]), client_for(app, world["cp"].user)
    lead = world["lead"]

    def card(client, portal):
        board = client.get(f"/{portal}/leads/kanban" if portal == "admin" else "/cp/leads/assigned/kanban")
        body = board.get_data(as_text=True)
        return body[body.index(f'id="card-{lead.id}"') :].split('class="kanban-card card"')[0]

    assert "Assigned deal" in card(cp, "cp") and "$10,000.00" in card(cp, "cp") and "just now" in card(cp, "cp")
    assert "Northwind" in card(admin, "admin")
    three_hours_ago = utcnow() - timedelta(hours=3)
    changes = {"title": "Renamed deal", "lead_value": Decimal("12500"), "updated_at": three_hours_ago}
    db.session.execute(sa.update(Lead).where(Lead.id == lead.id).values(**changes))
    world["cp"].company_name = "Northwind Traders"
    db.session.commit()
    shown = card(cp, "cp")
    assert "Renamed deal" in shown and "$12,500.00" in shown and "3 h ago" in shown and "Assigned deal" not in shown
    assert "Northwind Traders" in card(admin, "admin")


def test_board_heads_and_list_counts_read_from_the_rollups_follow_the_leads(app, world):
    """With no filter, a stage, a category, or both, the boards' column heads and the lists' counts come from the
    maintained rollups: after moves, a win, a loss of a won lead, a reallocation and a deletion they still equal the
    leads themselves, for a partner and for staff, and the page shows them."""
    from app.leads import deletion, pipeline
    from app.models.leads import ALLOCATION_STATUSES, STAGES

    cp, other, admin, owner = world["cp"], world["other"], world["admin"], world["super"]
    solar, wind = factories.make_category(), factories.make_category()
    Filters = lead_filters.LeadFilters

    def truth(partner=None, category=None):
        stmt = sa.select(Lead.kanban_stage, sa.func.count(), sa.func.coalesce(sa.func.sum(Lead.lead_value), 0))
        if partner is not None:
            stmt = stmt.where(Lead.allocated_to == partner.id)
        if category is not None:
            stmt = stmt.where(Lead.category_id == category.id)
        rows = db.session.execute(stmt.group_by(Lead.kanban_stage))
        found = {stage: (count, Decimal(total)) for stage, count, total in rows}
        return {stage: found.get(stage, (0, Decimal(0))) for stage in STAGES}

    def listed(filters, partner=None) -> int:
        return lead_queries.list_page(filters, 1, assigned_to=partner.id if partner else None).total

    def check():
        db.session.commit()
        for partner in (cp, other):
            assert lead_queries.column_totals(Filters(), partner.id) == truth(partner)
            assert listed(Filters(), partner) == sum(count for count, _total in truth(partner).values())
            assert listed(Filters(stage="won"), partner) == truth(partner)["won"][0]
            theirs = sa.or_(Lead.allocated_to == partner.id, Lead.originated_by == partner.id)  # staff's cp filter
            for stage in (None, "won", "new"):
                found = sa.select(sa.func.count()).where(theirs, *([Lead.kanban_stage == stage] if stage else []))
                assert listed(Filters(cp_id=partner.id, stage=stage)) == db.session.scalar(found)
        for category in (None, solar, wind):
            assert lead_queries.column_totals(Filters(category_id=category and category.id)) == truth(None, category)
            everything = truth(None, category)
            assert listed(Filters(category_id=category and category.id)) == sum(n for n, _t in everything.values())
            for stage in ("new", "won", "lost"):
                assert listed(Filters(stage=stage, category_id=category and category.id)) == everything[stage][0]
                for allocation in ALLOCATION_STATUSES:
                    found = sa.select(sa.func.count()).where(Lead.kanban_stage == stage)
                    found = found.where(Lead.allocation_status == allocation)
                    if category is not None:
                        found = found.where(Lead.category_id == category.id)
                    filters = Filters(stage=stage, allocation=allocation, category_id=category and category.id)
                    assert listed(filters) == db.session.scalar(found), (stage, allocation, category)

    with app.test_request_context():
        factories.make_lead(originator=cp, title="Sent in by cp, still waiting", category_id=solar.id)
        factories.make_lead(assignee=other, originator=cp, title="Sent in by cp, given to other")
        deals = [
            factories.make_lead(
                assignee=cp,
                title=f"Deal {n}",
                lead_value=str(1000 * n),
                commission_amount="100",
                category_id=(solar if n % 2 else wind).id,
            )
            for n in range(1, 5)
        ]
        check()
        pipeline.change_stage(deals[0], "proposal", cp.user, deals[0].version)
        pipeline.change_stage(deals[1], "won", cp.user, deals[1].version)
        pipeline.change_stage(deals[2], "won", cp.user, deals[2].version)
        check()
        pipeline.change_stage(deals[2], "lost", admin, deals[2].version, lost_reason="Budget cut")  # voids it
        pipeline.allocate(deals[1], other, admin)  # a won, unpaid lead moves to another partner: back to New
        check()
        deletion.delete_lead(deals[3], owner, confirmed_twice=True)
        check()
    body = client_for(app, cp.user).get("/cp/leads/assigned/kanban").get_data(as_text=True)
    count, total = truth(cp)["proposal"]
    assert re.search(rf'id="column-head-proposal"[^>]*>.*?data-count>{count}<.*?data-total>\${total:,.2f}<', body, re.S)
