"""Training end to end in a browser (issue 20, item 6): an admin writes a quiz and moves it first with the keyboard;
a member reads a document, marks it complete, fails then passes the quiz, and gets the certificate and the badge."""

import sqlalchemy as sa

from app.enablement import training
from app.extensions import db
from app.models import TrainingCertificate, TrainingModule
from tests import factories


def test_an_admin_writes_a_quiz_and_a_member_is_certified(new_page, app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Northwind")
    member = factories.make_member(partner, "viewer", name="Vera Viewer")
    reading = training.ModuleData("House rules", "document", body="Be **kind**.", required_tiers=("bronze",))
    training.create_module(admin, reading)
    db.session.commit()

    desk = new_page(admin)
    desk.goto("/admin/training/new")
    desk.get_by_label("Title").fill("Basics quiz")
    desk.get_by_label("Kind").select_option("quiz")
    desk.get_by_label("Pass mark (%)").fill("100")
    desk.get_by_label("Bronze").check()
    desk.get_by_role("button", name="Add module").click()
    desk.get_by_role("heading", name="Questions").wait_for()
    desk.get_by_label("Question").fill("Which are colours?")
    desk.get_by_label("Options").fill("* Red\nSquare\n* Blue")
    desk.get_by_role("button", name="Add question").click()
    desk.locator("#quiz-questions li", has_text="Which are colours?").wait_for()

    desk.goto("/admin/training")
    up = desk.get_by_role("button", name="Move up: Basics quiz")
    up.focus()
    desk.keyboard.press("Enter")
    desk.locator("#training-modules tbody tr").first.filter(has_text="Basics quiz").wait_for()
    # focus stays on the moved module's controls after the swap (restored just after it settles: wait, do not race)
    desk.wait_for_function(
        "['Move down: Basics quiz', 'Move up: Basics quiz']"
        ".includes(document.activeElement && document.activeElement.getAttribute('aria-label'))"
    )

    page = new_page(member)
    page.goto("/cp/training")
    page.get_by_role("link", name="House rules").click()
    assert page.locator(".training-document strong", has_text="kind").count() == 1
    page.get_by_role("button", name="Mark complete").click()
    page.get_by_text("Module complete.").wait_for()

    quiz = db.session.scalar(sa.select(TrainingModule).where(TrainingModule.title == "Basics quiz"))
    page.goto(f"/cp/training/{quiz.id}")
    page.get_by_label("Red").check()
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_text("You scored 0%").wait_for()
    page.get_by_label("Blue").check()  # Red is still ticked from the first attempt
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_text("You scored 100%").wait_for()
    page.get_by_role("link", name="See your certificate").click()
    assert "Certified partner" in page.locator("#training-badge").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download certificate (PDF)").click()
    assert download.value.suggested_filename.startswith("training-certificate-LF-")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingCertificate)) == 1

    owner = new_page(partner.user)
    owner.goto("/cp/team")
    assert "Certified" in owner.locator("tr", has_text="Vera Viewer").inner_text()
