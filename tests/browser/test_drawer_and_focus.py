"""Keyboard and phone basics the walk of every page cannot see: the navigation drawer opens and closes on a phone,
and focus stays where the person was working after an HTMX answer replaces it (issue 20, items 1 and 2)."""

from playwright.sync_api import expect

from tests.browser.test_every_page import DUPLICATE_IDS_JS

ACTIVE_IN = (
    "(selector) => { const a = document.activeElement; return !!a && a !== document.body && !!a.closest(selector); }"
)


SEEN_AFTER_SWAP_JS = """() => {
  window.seenAfterSwap = [];
  document.addEventListener("htmx:afterSwap", () => {
    window.seenAfterSwap.push(document.querySelector(".sidebar-toggle").getAttribute("aria-expanded"));
  });
}"""


def drawer_is_open(page) -> bool:
    return page.locator("#sidebar").bounding_box()["x"] >= 0


def test_the_drawer_opens_and_closes_on_a_phone(new_page, partner_with_lead):
    partner, _lead = partner_with_lead
    page = new_page(partner.user)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/cp/")
    toggle = page.locator(".sidebar-toggle")
    assert toggle.get_attribute("aria-expanded") == "false" and not drawer_is_open(page)

    toggle.click()
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().x >= 0")
    assert toggle.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0")
    assert page.evaluate("document.activeElement.classList.contains('sidebar-toggle')")

    toggle.click()
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().x >= 0")
    page.get_by_role("button", name="Close navigation").click()
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0")

    toggle.click()
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().x >= 0")
    page.evaluate(SEEN_AFTER_SWAP_JS)
    page.locator("#sidebar").get_by_role("link", name="Assigned leads").click()
    page.wait_for_url("**/cp/leads/assigned")
    page.wait_for_function("() => window.seenAfterSwap.length > 0")
    # The boosted link's URL is pushed before the swap and htmx:load comes a settle later: in between, the new
    # page's toggle must already say the drawer is closed.
    assert page.evaluate("window.seenAfterSwap") == ["false"]
    page.wait_for_function("() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0")
    expect(page.locator(".sidebar-toggle")).to_have_attribute("aria-expanded", "false")


def test_after_saving_in_the_slide_over_focus_stays_in_the_panel(new_page, partner_with_lead):
    partner, lead = partner_with_lead
    page = new_page(partner.user)
    page.goto("/cp/leads/assigned/kanban")
    page.locator(f"#card-{lead.id} .kanban-card-title").click()
    panel = page.locator(f"#lead-panel-{lead.id}")
    page.locator("#lead-panel.show:not(.showing)").wait_for()  # shown: its focus trap is on from here
    assert page.evaluate(DUPLICATE_IDS_JS) == []  # the slide-over's forms do not reuse the board's ids
    panel.get_by_label("Note").fill("   ")
    panel.get_by_role("button", name="Add note").focus()
    page.keyboard.press("Enter")  # only spaces: the server refuses and the field in error takes focus
    expect(page.locator(f"#lead-panel-{lead.id} textarea.is-invalid")).to_be_focused()

    page.keyboard.press("Control+A")
    page.keyboard.type("Called back, wants a demo")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator(f"#lead-panel-{lead.id} .note-body", has_text="Called back, wants a demo").wait_for()
    expect(page.locator(f"#lead-panel-{lead.id} :focus")).to_have_count(1)
