"""The kanban without a mouse and on any screen (issue 20, item 1): a card's Move menu works by keyboard alone and
posts to the route a drag does (so Lost asks why and a refusal says why), focus follows the card and #live-region
says what happened; the board fits 1366 px beside the sidebar and scrolls inside itself, never the page, below."""

import re

import pytest

from app.extensions import db
from app.models import Lead
from tests import factories
from tests.browser.test_kanban import stage_of
from tests.factories import PASSWORD

FOCUSED_CARD = "() => { const card = document.activeElement.closest('.kanban-card'); return card ? card.id : null; }"


def log_in(page, user):
    """For a browser context of its own (no scripts, touch): the new_page fixture's login."""
    page.goto("/auth/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/cp/**")


def tab_to(page, selector, text=None, limit=80):
    """Press Tab until `selector` (with `text`, if given) has the focus, as a keyboard user would."""
    focused = (
        "([s, t]) => document.activeElement.matches(s) && (t === null || document.activeElement.textContent === t)"
    )
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(focused, [selector, text]):
            return
    pytest.fail(f"Tab never reached {selector} {text or ''}")


def open_move_menu(page, lead):
    tab_to(page, f"#card-{lead.id} .kanban-move summary")
    page.keyboard.press("Enter")
    page.locator(f"#card-{lead.id} .kanban-move-menu").wait_for()


def choose(page, lead, label):
    """In the open Move menu, Tab to the `label` button and press Enter; wait for the board's answer."""
    tab_to(page, f"#card-{lead.id} .kanban-move-menu button", label, limit=8)
    with page.expect_response(lambda r: r.request.method == "POST" and "/kanban/" in r.url):
        page.keyboard.press("Enter")


def move_by_keyboard(new_page, partner, lead, label):
    """The partner's board, the lead's Move menu opened by keyboard and `label` chosen in it."""
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    open_move_menu(page, lead)
    choose(page, lead, label)
    return page


def lost_dialog_ready(page):
    page.locator("#kanban-dialog [role=dialog]").wait_for()
    page.wait_for_function("() => !document.querySelector('.htmx-added')")  # htmx has set up the dialog (20 ms)


def test_a_partner_moves_a_card_by_keyboard_and_focus_follows_it(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = move_by_keyboard(new_page, partner, lead, "Contacted")
    page.locator(f"#column-contacted #card-{lead.id}").wait_for()
    assert page.locator(f"#card-{lead.id}").count() == 1
    assert page.evaluate(FOCUSED_CARD) == f"card-{lead.id}"
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"  # its Move control
    assert page.locator("#live-region").inner_text() == "Moved Drag me to Contacted."
    assert page.locator("#column-head-contacted [data-count]").inner_text() == "1"
    page.reload()
    assert page.locator(f"#column-contacted #card-{lead.id}").count() == 1
    assert stage_of(lead.id) == "contacted"


def test_a_keyboard_move_to_lost_asks_why_then_moves(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = move_by_keyboard(new_page, partner, lead, "Lost")
    lost_dialog_ready(page)
    assert page.locator(f"#column-new #card-{lead.id}").count() == 1  # back until a reason is given
    assert page.evaluate("() => document.activeElement.tagName") == "TEXTAREA"  # the reason has the focus
    assert stage_of(lead.id) == "new"
    page.keyboard.type("Budget cut")
    page.keyboard.press("Tab")  # to "Move to Lost"
    with page.expect_response(lambda r: r.url.endswith(f"/cp/leads/{lead.id}/stage")):
        page.keyboard.press("Enter")
    page.locator(f"#column-lost #card-{lead.id}").wait_for()
    assert page.locator("#kanban-dialog [role=dialog]").count() == 0
    assert page.evaluate(FOCUSED_CARD) == f"card-{lead.id}"
    assert page.locator("#live-region").inner_text() == "Moved Drag me to Lost."
    assert stage_of(lead.id) == "lost"
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).lost_reason == "Budget cut"


def test_escape_cancels_the_lost_dialog_and_gives_the_card_back_the_focus(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = move_by_keyboard(new_page, partner, lead, "Lost")
    lost_dialog_ready(page)
    page.keyboard.press("Escape")
    page.locator("#kanban-dialog [role=dialog]").wait_for(state="detached")
    page.wait_for_function(f"() => document.activeElement.closest('#card-{lead.id}') !== null")
    assert page.locator(f"#column-new #card-{lead.id}").count() == 1
    assert stage_of(lead.id) == "new"


def test_a_refused_keyboard_move_says_why(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    db.session.get(Lead, lead.id).version += 1  # someone else saved the lead meanwhile
    db.session.commit()
    open_move_menu(page, lead)
    choose(page, lead, "Won")
    page.locator("#kanban-message .alert-danger", has_text="changed by someone else").wait_for()
    assert "changed by someone else" in page.locator("#live-region").inner_text()
    assert page.locator(f"#column-new #card-{lead.id}").count() == 1
    assert page.locator("#column-head-won [data-count]").inner_text() == "0"
    assert page.evaluate(FOCUSED_CARD) == f"card-{lead.id}"
    assert stage_of(lead.id) == "new"


@pytest.fixture
def full_board(partner_with_lead):
    partner, lead = partner_with_lead
    for stage in ("contacted", "qualified", "proposal", "negotiation", "won", "lost"):
        title = f"A rather long title for a {stage} deal that cannot fit on one line of a card"
        factories.make_lead(assignee=partner, title=title, kanban_stage=stage, lead_value="1234567.89")
    db.session.commit()
    return partner, lead


def test_every_column_fits_1366_px_and_the_board_scrolls_inside_itself_on_a_phone(new_page, full_board):
    partner, _lead = full_board
    page = new_page(partner.user)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/cp/leads/assigned/kanban")
    heads = page.locator(".kanban-column-head")
    assert heads.count() == 7
    for n in range(7):
        box = heads.nth(n).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, heads.nth(n).inner_text()
    title = page.locator("#column-won .kanban-card-title")
    assert title.get_attribute("title").startswith("A rather long title")  # the whole of it, as a tooltip
    assert title.evaluate("(el) => el.scrollWidth > el.clientWidth")  # truncated
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    ids = page.evaluate("() => [...document.querySelectorAll('[id]')].map((el) => el.id)")
    assert len(ids) == len(set(ids))

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/cp/leads/assigned/kanban")
    board = page.locator("#kanban-board")
    assert board.get_attribute("role") == "region" and board.get_attribute("tabindex") == "0"
    assert board.get_attribute("aria-label") and board.get_attribute("data-scrolls") is not None
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert board.evaluate("(el) => el.scrollWidth > el.clientWidth")
    page.locator("#column-lost").scroll_into_view_if_needed()
    page.wait_for_function("() => document.getElementById('column-lost').getBoundingClientRect().right <= 391")
    box = page.locator("#column-lost .kanban-column-head").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("width", [360, 768, 1920])
def test_the_page_never_scrolls_sideways(new_page, full_board, width):
    partner, _lead = full_board
    page = new_page(partner.user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/cp/leads/assigned/kanban")
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_move_menu_on_the_admin_board(new_page, partner_with_lead):
    _partner, lead = partner_with_lead
    admin = factories.make_user("admin")
    db.session.commit()
    page = new_page(admin)
    page.goto("/admin/leads/kanban")
    open_move_menu(page, lead)
    choose(page, lead, "Qualified")
    page.locator(f"#column-qualified #card-{lead.id}").wait_for()
    assert page.evaluate(FOCUSED_CARD) == f"card-{lead.id}"
    assert stage_of(lead.id) == "qualified"


def test_a_card_is_moved_by_touch_on_a_phone(browser, live_server, partner_with_lead):
    partner, lead = partner_with_lead
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        page = context.new_page()
        log_in(page, partner.user)
        page.goto("/cp/leads/assigned/kanban")
        card = page.locator(f"#card-{lead.id}")
        card.locator("summary").tap()
        with page.expect_response(lambda r: r.url.endswith("/kanban/proposal")):
            card.get_by_role("button", name="Proposal", exact=True).tap()
        page.locator(f"#column-proposal #card-{lead.id}").wait_for()
        page.locator(f"#column-proposal #card-{lead.id} summary").wait_for()
        assert page.locator("#live-region").inner_text() == "Moved Drag me to Proposal."
        assert stage_of(lead.id) == "proposal"
    finally:
        context.close()


def test_a_viewer_gets_no_move_menu(new_page):
    partner = factories.make_partner(company="Northwind")
    viewer = factories.make_member(partner, "viewer")
    lead = factories.make_lead(assignee=partner, title="Look only")
    db.session.commit()
    page = new_page(viewer)
    page.goto("/cp/leads/assigned/kanban")
    page.locator(f"#card-{lead.id}").wait_for()
    assert page.locator(".kanban-move").count() == 0 and page.locator("#kanban-move").count() == 0


def test_without_scripts_the_move_menu_posts_a_form_and_the_board_comes_back(browser, live_server, partner_with_lead):
    """The move endpoint opened as a full page: a move redirects to the board at the card; Lost shows the board
    with the dialog, whose answer comes back to the board."""
    partner, lead = partner_with_lead
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, partner.user)
        page.goto("/cp/leads/assigned/kanban")
        card = page.locator(f"#card-{lead.id}")
        card.locator("summary").click()
        card.get_by_role("button", name="Contacted", exact=True).click()
        page.wait_for_url(re.compile(rf"/cp/leads/assigned/kanban#card-{lead.id}$"))
        assert page.locator(f"#column-contacted #card-{lead.id}").count() == 1
        assert "Moved “Drag me” to Contacted." in page.locator("#flashes").inner_text()
        assert stage_of(lead.id) == "contacted"

        card.locator("summary").click()
        card.get_by_role("button", name="Lost", exact=True).click()
        dialog = page.locator("#kanban-dialog [role=dialog]")
        dialog.get_by_label("Reason the lead was lost").fill("Budget cut")
        dialog.get_by_role("button", name="Move to Lost").click()
        page.wait_for_url(re.compile(rf"/cp/leads/assigned/kanban#card-{lead.id}$"))
        assert page.locator(f"#column-lost #card-{lead.id}").count() == 1
        assert stage_of(lead.id) == "lost"
    finally:
        context.close()
