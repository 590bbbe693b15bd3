"""Times in the viewer's timezone (issue 20 item 9): stored in UTC, shown in the zone the person saved on
/account/timezone (UTC until then), with the zone beside every time of day."""

from datetime import UTC, date, datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.web.times import localtime
from tests import factories
from tests.conftest import login
from tests.fee_support import won


def test_the_filter_converts_utc_to_the_zone_and_names_it():
    winter, summer = datetime(2026, 1, 15, 23, 30), datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert localtime(winter, "%d %b %Y %H:%M", zone_name="Europe/Paris") == "16 Jan 2026 00:30 CET"
    assert localtime(summer, "%H:%M", zone_name="America/New_York") == "08:00 EDT"
    assert localtime(winter, "%d %b %Y", zone_name="Asia/Tokyo") == "16 Jan 2026"  # a date alone: no zone name
    assert localtime(date(2026, 1, 15), "%d %b %Y", zone_name="Asia/Tokyo") == "15 Jan 2026"  # a date has no zone
    assert localtime(winter, "%H:%M", zone_name="Not/AZone") == "23:30 UTC"
    assert localtime(None) == ""


def test_a_person_saves_a_zone_and_sees_money_and_audit_times_in_it(app):
    factories.make_fee_config("percentage", "10")
    admin = factories.make_user("admin")
    tx = won(factories.make_partner(), admin, commission="1000", title="Zoned deal")
    tx.won_at = datetime(2026, 3, 1, 23, 30)  # 1 March in UTC, 2 March in Sydney
    db.session.commit()
    client = login(app.test_client(), admin)
    page = client.get("/admin/platform-fees").get_data(as_text=True)
    assert "01 Mar 2026" in page and "02 Mar 2026" not in page

    assert "UTC (not chosen yet)" in client.get("/account").get_data(as_text=True)
    saved = client.post("/account/timezone", data={"timezone": "Australia/Sydney"})
    assert saved.status_code == 200 and "times are now shown in Australia/Sydney" in saved.get_data(as_text=True)
    assert db.session.scalar(sa.select(User.timezone).where(User.id == admin.id)) == "Australia/Sydney"
    page = client.get("/admin/platform-fees").get_data(as_text=True)  # the memoized fee rows follow the zone
    assert "02 Mar 2026" in page and "01 Mar 2026" not in page
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert " AEDT</td>" in audit or " AEST</td>" in audit  # audit times carry the zone
    # Another viewer of the same rows still sees UTC.
    other = login(app.test_client(), factories.make_user("admin"))
    assert "01 Mar 2026" in other.get("/admin/platform-fees").get_data(as_text=True)


def test_a_zone_that_is_not_in_the_list_is_refused_beside_the_field(app):
    user = factories.make_user("admin")
    db.session.commit()
    client = login(app.test_client(), user)
    for bad in ("Mars/Olympus_Mons", "", "x" * 5000, "../../etc/passwd"):
        response = client.post("/account/timezone", data={"timezone": bad})
        assert response.status_code == 422 and 'id="timezone-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone is None
