"""What a browser shows of a partner's team: an owner invites a colleague, who accepts the emailed link and works
a lead on the board; a viewer's board cannot be dragged."""

import re

from app.extensions import db
from app.models import Lead, User
from tests import factories
from tests.browser.test_kanban import drag

LINK = re.compile(r"https?://[^/\s]+(/join/[A-Za-z0-9_-]+)")


def test_an_owner_invites_a_member_who_accepts_and_works_a_lead(new_page, app, mail_outbox):
    factories.make_fee_config("percentage", "10")
    partner = factories.make_partner(company="Northwind")
    lead = factories.make_lead(assignee=partner, title="Work me", lead_value="10000", commission_amount="1000")
    db.session.commit()

    owner = new_page(partner.user)
    owner.goto("/cp/team")
    owner.get_by_label("Email").fill("colleague@partner.test")
    owner.get_by_label("Role", exact=True).select_option("manager")
    owner.get_by_role("button", name="Send invitation").click()
    owner.locator("#team .alert-success").wait_for()
    assert "colleague@partner.test" in owner.locator("#team").inner_text()  # listed under open invitations

    [email] = [m for m in mail_outbox if m["To"] == "colleague@partner.test"]
    [path] = set(LINK.findall(email.get_body(("plain",)).get_content()))
    colleague = new_page()
    colleague.goto(path)
    colleague.get_by_label("Your name").fill("Cleo Colleague")
    colleague.get_by_label("Password", exact=True).fill("a-good-password")
    colleague.get_by_label("Confirm password").fill("a-good-password")
    colleague.get_by_role("button", name="Accept and log in").click()
    colleague.wait_for_url("**/cp/")
    assert "Welcome to Northwind" in colleague.content()

    colleague.goto("/cp/leads/assigned/kanban")
    target = colleague.locator("#column-contacted .kanban-list")
    drag(colleague, colleague.locator(f"#card-{lead.id}"), target, "contacted")
    colleague.locator("#kanban-message .alert-success").wait_for()
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).kanban_stage == "contacted"
    member = db.session.query(User).filter_by(email="colleague@partner.test").one()
    assert member.member_role == "manager"

    owner.goto("/cp/activity")
    assert "Cleo Colleague" in owner.locator("#partner-activity").inner_text()


def test_a_viewers_board_does_not_drag(new_page):
    partner = factories.make_partner(company="Northwind")
    viewer = factories.make_member(partner, "viewer")
    lead = factories.make_lead(assignee=partner, title="Look only")
    db.session.commit()
    page = new_page(viewer)
    page.goto("/cp/leads/assigned/kanban")
    card, target = page.locator(f"#card-{lead.id}"), page.locator("#column-contacted .kanban-list")
    card_box, target_box = card.bounding_box(), target.bounding_box()
    page.mouse.move(card_box["x"] + 20, card_box["y"] + 10)
    page.mouse.down()
    page.mouse.move(target_box["x"] + 30, target_box["y"] + 30, steps=15)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert page.locator(f"#column-new #card-{lead.id}").count() == 1
    assert "read-only access" in page.content()
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).kanban_stage == "new"
