"""What only a browser shows: drag and drop on the kanban, the live fee preview, the slide-over, the inline stage dropdown."""

from decimal import Decimal

from app.extensions import db
from app.leads import queries as lead_queries
from app.models import Lead
from app.portals.lead_forms import prefix_for
from tests import factories


def stage_of(lead_id):
    db.session.expire_all()
    return db.session.get(Lead, lead_id).kanban_stage


def drag(page, card, target, stage):
    card_box, target_box = card.bounding_box(), target.bounding_box()
    page.mouse.move(card_box["x"] + 20, card_box["y"] + 10)
    page.mouse.down()
    page.mouse.move(card_box["x"] + 40, card_box["y"] + 30, steps=5)
    page.mouse.move(target_box["x"] + 30, target_box["y"] + 30, steps=15)
    with page.expect_response(lambda r: f"/kanban/{stage}" in r.url):
        page.mouse.up()


def test_drag_a_card_from_new_to_contacted_and_it_stays_after_reload(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    drag(page, page.locator(f"#card-{lead.id}"), page.locator("#column-contacted .kanban-list"), "contacted")
    page.locator("#kanban-message .alert-success").wait_for()
    assert page.locator("#column-head-new [data-count]").inner_text() == "0"
    assert page.locator("#column-head-contacted [data-count]").inner_text() == "1"
    assert page.locator("#column-head-contacted [data-total]").inner_text() == "$10,000.00"
    assert page.locator(f"#card-{lead.id}").count() == 1  # the answer replaced the dropped card, no copy
    assert page.locator(f"#column-contacted #card-{lead.id}").count() == 1
    page.reload()
    assert page.locator(f"#column-contacted #card-{lead.id}").count() == 1
    assert stage_of(lead.id) == "contacted"


def test_a_refused_drag_puts_the_card_back_and_says_why(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    db.session.get(Lead, lead.id).version += 1  # someone else saved the lead meanwhile
    db.session.commit()
    drag(page, page.locator(f"#card-{lead.id}"), page.locator("#column-won .kanban-list"), "won")
    page.locator("#kanban-message .alert-danger", has_text="changed by someone else").wait_for()
    assert page.locator(f"#column-new #card-{lead.id}").count() == 1
    assert page.locator(f"#column-won #card-{lead.id}").count() == 0
    assert page.locator("#column-head-won [data-count]").inner_text() == "0"
    assert stage_of(lead.id) == "new"


def test_dragging_to_lost_asks_why_then_moves_the_card(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    drag(page, page.locator(f"#card-{lead.id}"), page.locator("#column-lost .kanban-list"), "lost")
    dialog = page.locator("#kanban-dialog [role=dialog]")
    dialog.wait_for()
    assert page.locator(f"#column-new #card-{lead.id}").count() == 1  # back until a reason is given
    dialog.get_by_label("Reason the lead was lost").fill("Budget cut")
    dialog.get_by_role("button", name="Move to Lost").click()
    page.locator(f"#column-lost #card-{lead.id}").wait_for()
    assert page.locator("#kanban-dialog [role=dialog]").count() == 0
    assert page.locator("#column-head-lost [data-count]").inner_text() == "1"
    assert stage_of(lead.id) == "lost"


def test_show_more_appends_the_next_cards_of_a_column(new_page, partner_with_lead):
    partner, _lead = partner_with_lead
    for n in range(lead_queries.COLUMN_PAGE + 5):
        factories.make_lead(assignee=partner, title=f"Deal {n}", kanban_stage="proposal", lead_value="100")
    db.session.commit()
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    cards = page.locator("#column-proposal .kanban-card")
    assert cards.count() == lead_queries.COLUMN_PAGE
    page.locator("#more-proposal").get_by_role("button", name="Show more").click()
    page.locator(f"#column-proposal .kanban-card >> nth={lead_queries.COLUMN_PAGE + 4}").wait_for()
    assert cards.count() == lead_queries.COLUMN_PAGE + 5
    assert page.locator("#more-proposal button").count() == 0  # nothing more to load


def test_the_list_row_opens_with_notes_and_evidence(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned")
    row = page.locator(f"#lead-{lead.id}")
    with page.expect_response(lambda r: r.url.endswith(f"/cp/leads/{lead.id}/row")):
        row.locator("summary").click()
    row.get_by_role("button", name="Upload evidence").wait_for()
    row.get_by_label("Note").fill("Called the buyer")
    row.get_by_role("button", name="Add note").click()
    row.get_by_text("Called the buyer").wait_for()


def test_the_admin_partner_filter_suggests_and_filters(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    other = factories.make_partner(company="Other Co")
    factories.make_lead(assignee=other, title="Someone else's")
    admin = factories.make_user("admin")
    db.session.commit()
    page = new_page(admin)
    page.goto("/admin/leads")
    page.get_by_label("Channel partner", exact=True).press_sequentially("north", delay=30)
    option = page.locator("#f-cp-options [data-partner-pick]", has_text="Northwind")
    option.wait_for()
    wanted = f"cp={partner.id}"
    with page.expect_response(lambda r: wanted in r.url and "/admin/leads?" in r.url):
        option.click()
    page.locator("#leads-table", has_text="Drag me").wait_for()
    assert page.locator("#leads-table", has_text="Someone else").count() == 0
    assert page.locator("input[name=cp]").input_value() == wanted.removeprefix("cp=")


def test_typing_a_commission_updates_fee_and_net_without_saving(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto(f"/cp/leads/{lead.id}")
    prefix = prefix_for(lead)
    page.get_by_label("Commission amount").fill("2500")
    preview = page.locator(f"#preview-{prefix}")
    preview.locator("[data-fee]", has_text="$250.00").wait_for()
    assert preview.locator("[data-net]").inner_text() == "$2,250.00"
    assert "global 10 %" in preview.inner_text()
    page.get_by_label("Commission amount").fill("abc")
    page.locator(f"#{prefix}-commission_amount-live", has_text="Enter an amount").wait_for()
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).commission_amount == Decimal("1000.00")


def test_clicking_a_card_opens_the_slide_over(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    page.locator(f"#card-{lead.id} .kanban-card-title").click()
    panel = page.locator("#lead-panel")
    panel.locator(".lead-panel-title", has_text="Drag me").wait_for()
    assert panel.is_visible()
    assert panel.get_by_label("Commission amount").input_value() == "1000.00"
    assert panel.get_by_role("heading", name="Activity").is_visible()


def test_the_lists_inline_stage_dropdown_saves_and_rerenders_the_row(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned")
    select = page.locator(f"#lead-{lead.id} select[name='{prefix_for(lead)}-stage']")
    with page.expect_response(lambda r: r.url.endswith(f"/cp/leads/{lead.id}/stage")):
        select.select_option("qualified")
    page.locator(f"#lead-{lead.id} [role=status]", has_text="Moved to Qualified").wait_for()
    assert stage_of(lead.id) == "qualified"
    page.reload()
    assert page.locator(f"#lead-{lead.id} select[name='{prefix_for(lead)}-stage']").input_value() == "qualified"
