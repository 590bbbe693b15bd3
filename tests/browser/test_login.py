from app.extensions import db
from tests import factories


def test_demo_cp_logs_in_and_sees_the_dashboard(new_page):
    partner = factories.make_partner(company="Northwind Solutions")
    db.session.commit()
    page = new_page(partner.user)
    assert page.url.endswith("/cp/")
    assert page.get_by_role("heading", name="Welcome, Northwind Solutions").is_visible()
    assert page.get_by_role("navigation").get_by_role("link", name="Dashboard").is_visible()
