"""Referral links (SPEC 9.2, issue 18 item 6): /r/<code> records the visit with its UTM tags, a signed cookie
attributes a request within 30 days (not after), an over-quota partner's prospect is still served (unattributed),
and /cp/links counts per source, the partner's own rows only."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Lead, ReferralVisit
from app.models.base import utcnow
from tests import factories
from tests.conftest import login


def person(email="pat@example.com"):
    return {"first_name": "Pat", "last_name": "Jones", "contact_email": email}


@pytest.fixture
def world():
    partner = factories.make_partner(company="Referrer Co")
    other = factories.make_partner(company="Other Co")
    category = factories.make_category("Heat Pumps")
    db.session.commit()
    return partner, other, category


def visits() -> list[ReferralVisit]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ReferralVisit).order_by(ReferralVisit.created_at)))


def the_lead() -> Lead:
    db.session.expire_all()
    (lead,) = db.session.scalars(sa.select(Lead)).all()
    return lead


def test_a_visit_is_recorded_with_its_tags_and_a_signed_cookie(client, world):
    partner, _other, category = world
    long_tag = "c" * 300
    response = client.get(
        f"/r/{partner.code.lower()}?utm_source=newsletter&utm_medium=email&utm_campaign={long_tag}"
        f"&utm_term=pumps&utm_content=top&category={category.slug}",
        headers={"Referer": "https://blog.example/post?" + "q" * 900},
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/request/{category.slug}"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lf_ref=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=2592000" in cookie
    (visit,) = visits()
    assert visit.partner_id == partner.id and visit.category_id == category.id
    assert (visit.utm_source, visit.utm_medium, visit.utm_term, visit.utm_content) == (
        "newsletter",
        "email",
        "pumps",
        "top",
    )
    assert visit.utm_campaign == "c" * 100 and len(visit.referrer_url) == 500
    assert visit.referrer_url.startswith("https://blog.example/post?")


def test_reloading_or_hammering_a_link_does_not_inflate_the_visits(app, client, world):
    partner, other, _category = world
    app.config["REFERRAL_VISIT_RATE_LIMIT"] = "3/hour"
    for _ in range(3):  # the same browser: its first visit stands
        assert client.get(f"/r/{partner.code}?utm_source=a").status_code == 303
    assert len(visits()) == 1
    assert client.get(f"/r/{other.code}").status_code == 303  # another partner's link is a visit of its own
    assert len(visits()) == 2
    for _ in range(5):  # fresh browsers from one address: counted up to the limit, and the link keeps working
        assert app.test_client().get(f"/r/{partner.code}").status_code == 303
    assert len(visits()) == 3


def test_without_a_category_the_link_leads_to_the_list(client, world):
    partner, _other, _category = world
    response = client.get(f"/r/{partner.code}?category=not-a-category")
    assert response.status_code == 303 and response.headers["Location"] == "/request"
    assert visits()[0].category_id is None and visits()[0].utm == {}


@pytest.mark.parametrize("status", ["pending", "suspended"])
def test_unknown_or_unapproved_partners_codes_are_404(client, status):
    partner = factories.make_partner(status=status)
    db.session.commit()
    assert client.get(f"/r/{partner.code}").status_code == 404
    assert client.get("/r/CP-NOSUCH").status_code == 404
    assert visits() == []


def test_a_request_within_30_days_is_attributed(client, world):
    partner, _other, category = world
    client.get(
        f"/r/{partner.code}?utm_source=linkedin&utm_campaign=spring", headers={"Referer": "https://li.example/x"}
    )
    assert client.post(f"/request/{category.slug}", data=person()).status_code == 200
    lead, (visit,) = the_lead(), visits()
    assert lead.channel == "referral" and lead.originated_by == partner.id
    assert lead.referral_visit_id == visit.id
    assert lead.utm == {"source": "linkedin", "campaign": "spring"} and lead.referrer_url == "https://li.example/x"
    assert lead.intake_status == "pending_confirmation"


def test_a_request_after_30_days_is_not_attributed(client, world):
    partner, _other, category = world
    client.get(f"/r/{partner.code}?utm_source=linkedin")
    visit = visits()[0]
    visit.created_at = utcnow() - timedelta(days=30, minutes=1)
    db.session.commit()
    assert client.post(f"/request/{category.slug}", data=person()).status_code == 200
    lead = the_lead()
    assert (lead.channel, lead.originated_by, lead.referral_visit_id, lead.utm) == ("public_form", None, None, {})


def test_a_tampered_cookie_attributes_nothing(client, world):
    partner, _other, category = world
    client.get(f"/r/{partner.code}")
    raw = client.get_cookie("lf_ref").value
    client.set_cookie("lf_ref", raw[:-2] + "xx")
    client.post(f"/request/{category.slug}", data=person())
    assert the_lead().channel == "public_form" and the_lead().originated_by is None


@pytest.mark.parametrize("limit", [{"monthly_lead_quota": 0}, {"cap_originates": False}])
def test_a_partner_that_may_not_originate_does_not_cost_the_prospect_the_request(client, world, limit):
    partner, _other, category = world
    for name, value in limit.items():
        setattr(partner, name, value)
    db.session.commit()
    client.get(f"/r/{partner.code}?utm_source=ads")
    response = client.post(f"/request/{category.slug}", data=person())
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    lead = the_lead()
    assert (lead.channel, lead.originated_by, lead.referral_visit_id) == ("public_form", None, None)
    assert lead.intake_status == "pending_confirmation"


# --- /cp/links ----------------------------------------------------------------------------------------------


def stats_of(page: str) -> dict[str, tuple[int, ...]]:
    rows = re.findall(r'<tr data-source="([^"]+)"><th scope="row">[^<]*</th>((?:<td[^>]*>\d+</td>)+)</tr>', page)
    return {source: tuple(int(n) for n in re.findall(r">(\d+)<", cells)) for source, cells in rows}


def _visit(partner, source=None, days_ago=0):
    visit = ReferralVisit(partner_id=partner.id, utm_source=source, created_at=utcnow() - timedelta(days=days_ago))
    db.session.add(visit)
    db.session.flush()
    return visit


def _lead(partner, visit, **kw):
    return factories.make_lead(originator=partner, referral_visit_id=visit.id, channel="referral", **kw)


def test_links_page_counts_per_source_over_90_days_own_rows_only(app, world):
    partner, other, category = world
    news = [_visit(partner, "news") for _ in range(3)]
    direct = _visit(partner, None)
    _visit(partner, "news", days_ago=91)  # too old
    _lead(partner, news[0], intake_status="pending_review")
    _lead(partner, news[1], intake_status="approved")
    _lead(partner, news[2], intake_status="distributed", kanban_stage="won")
    _lead(partner, direct, intake_status="rejected")
    theirs = _visit(other, "news")
    _lead(other, theirs, intake_status="approved", kanban_stage="won")
    factories.make_lead(originator=partner, channel="portal", kanban_stage="won")  # not from a link
    db.session.commit()

    page = login(app.test_client(), partner.user).get("/cp/links").get_data(as_text=True)
    assert stats_of(page) == {"news": (3, 3, 2, 1), "direct": (1, 1, 0, 0)}
    assert f"/r/{partner.code}?category={category.slug}" in page
    other_page = login(app.test_client(), other.user).get("/cp/links").get_data(as_text=True)
    assert stats_of(other_page) == {"news": (1, 1, 1, 1)}


def test_every_member_may_view_the_links_page(app, world):
    partner, _other, _category = world
    viewer = factories.make_member(partner, "viewer")
    db.session.commit()
    response = login(app.test_client(), viewer).get("/cp/links")
    assert response.status_code == 200 and partner.code in response.get_data(as_text=True)


def test_the_link_builder_works_live_and_without_javascript(app, world):
    partner, _other, category = world
    client = login(app.test_client(), partner.user)
    query = f"category={category.slug}&utm_source=news+letter&utm_medium=email&utm_campaign="
    expected = f"/r/{partner.code}?category={category.slug}&amp;utm_source=news+letter&amp;utm_medium=email"
    full = client.get(f"/cp/links?{query}")
    assert full.status_code == 200 and expected in full.get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms' in full.get_data(as_text=True)
    partial = client.get(f"/cp/links?{query}", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body and expected in body and 'data-copy="#built-link"' in body
    too_long = client.get(f"/cp/links?utm_source={'x' * 101}")
    assert too_long.status_code == 422 and "under 100 characters" in too_long.get_data(as_text=True)
    # A link built here works: following it records the visit with the tags.
    visit_response = app.test_client().get(f"/r/{partner.code}?category={category.slug}&utm_source=news+letter")
    assert visit_response.status_code == 303 and visits()[0].utm_source == "news letter"
