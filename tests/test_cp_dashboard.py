"""The partner dashboard (issue #20 item 4): onboarding checklist, KPIs, goal, trend and funnel over a month range.

The world: partner A (fee 10 %) with leads won on either side of month and year boundaries, open and lost leads,
and partner B whose figures must never show on A's page.

| lead     | stage     | dated (won or created) | commission | fee    | net     |
|----------|-----------|------------------------|------------|--------|---------|
| Old deal | won       | 2025-12-15             | 1000.00    | 100.00 | 900.00  |
| January  | won       | 2026-01-20             | 1234.50    | 123.45 | 1111.05 |
| Spring   | lost      | 2026-03-03             |            |        |         |
| Autumn   | proposal  | 2026-09-05             |            |        |         |
| Halloween| won       | 2026-10-31 23:30       | 500.00     | 50.00  | 450.00  |
| November | won       | 2026-11-01 00:15       | 200.50     | 20.05  | 180.45  |
| Lost Nov | lost      | 2026-11-10             |            |        |         |
| Warm Nov | contacted | 2026-11-12             |            |        |         |
| (B) Beta | won       | 2026-11-05             | 9999.00    |        |         |
"""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import AuditEvent, StoredFile
from app.models.base import utcnow
from app.models.goals import PartnerGoal
from app.models.training import TrainingModule, TrainingProgress
from app.partners import onboarding
from app.portals.cp import dashboard as dashboard_view
from tests import factories
from tests.conftest import login
from tests.report_data import _open, _won

D = Decimal


@pytest.fixture
def world():
    admin = factories.make_user("admin")
    factories.make_fee_config("percentage", "10")
    a = factories.make_partner(company="Alpha Partners")
    b = factories.make_partner(company="Beta Ltd")
    cat = factories.make_category("Solar")
    _won(a, admin, "Old deal", "10000", "1000", date(2025, 12, 15), cat)
    _won(a, admin, "January", "12345", "1234.50", date(2026, 1, 20), cat)
    _open(a, "Spring", "lost", "100", date(2026, 3, 3), cat)
    _open(a, "Autumn", "proposal", "100", date(2026, 9, 5), cat)
    _, halloween = _won(a, admin, "Halloween", "5000", "500", date(2026, 10, 31), cat)
    halloween.won_at = datetime(2026, 10, 31, 23, 30)
    _, november = _won(a, admin, "November", "2005", "200.50", date(2026, 11, 1), cat)
    november.won_at = datetime(2026, 11, 1, 0, 15)
    _open(a, "Lost Nov", "lost", "100", date(2026, 11, 10), cat)
    _open(a, "Warm Nov", "contacted", "100", date(2026, 11, 12), cat)
    _won(b, admin, "Beta", "99990", "9999", date(2026, 11, 5), cat)
    db.session.commit()
    return {"a": a, "b": b, "admin": admin}


def figures(html: str) -> dict:
    """{data-figure name: text} read back from the rendered performance cards."""
    return {name: value.strip() for name, value in re.findall(r'data-figure="([a-z_]+)">([^<]+)<', html)}


def money(text: str) -> Decimal:
    return D(re.sub(r"[^0-9.]", "", text))


def page(client, **params):
    response = client.get("/cp/", query_string=params)
    return response.status_code, response.get_data(as_text=True)


def custom(first: str, last: str) -> dict:
    return {"range": "custom", "date_from": first, "date_to": last}


def test_range_figures_to_the_cent_across_a_month_boundary(app, world):
    client = login(app.test_client(), world["a"].user)
    status, html = page(client, **custom("2026-10", "2026-11"))
    shown = figures(html)
    assert status == 200
    assert money(shown["commission_month"]) == D("200.50")  # November: the lead won at 00:15 on the 1st
    assert money(shown["commission_ytd"]) == D("1935.00")  # 1234.50 + 500 + 200.50; Dec 2025 is last year
    assert shown["conversion"] == "66.7 %"  # 2 won ÷ (2 won + 1 lost) dated Oct–Nov
    assert "$700.50 over the range" in html
    summary = re.search(r'id="range-summary".*?</dl>', html, re.S).group(0)
    assert re.search(r'data-range-figure="rows">4<', summary)
    assert '"fee">$70.05<' in summary and '"net">$630.45<' in summary  # 50.00 + 20.05; 450.00 + 180.45
    assert "9,999" not in html  # partner B's deal

    _, html = page(client, **custom("2026-11", "2026-11"))
    assert "$200.50 over the range" in html  # the Halloween deal (23:30 on 31 Oct) is left out
    assert figures(html)["conversion"] == "50.0 %"


def test_range_that_crosses_a_year_and_the_trend_chart(app, world):
    client = login(app.test_client(), world["a"].user)
    _, html = page(client, **custom("2025-12", "2026-01"))
    shown = figures(html)
    assert money(shown["commission_month"]) == D("1234.50")
    assert money(shown["commission_ytd"]) == D("1234.50")
    assert "$2,234.50 over the range" in html
    trend = re.search(r'id="chart-cp-commission-trend".*?</figure>', html, re.S).group(0)
    assert "Dec 2025 · Gross commission: $1,000.00" in trend and "Jan 2026 · Net commission: $1,111.05" in trend
    assert "Feb 2026" not in trend


def test_funnel_counts_leads_at_or_past_each_stage(app, world):
    client = login(app.test_client(), world["a"].user)
    _, html = page(client, **custom("2026-09", "2026-11"))
    funnel = re.search(r'id="chart-cp-funnel".*?</figure>', html, re.S).group(0)
    # Sep–Nov: Autumn (proposal), Halloween and November (won), Lost Nov, Warm Nov (contacted)
    expected = {"Assigned": 5, "Contacted": 4, "Qualified": 3, "Proposal": 3, "Negotiation": 2, "Won": 2}
    for label, count in expected.items():
        assert f"{label} · Leads: {count}<" in funnel, label


def test_presets_follow_today(app, world, monkeypatch):
    monkeypatch.setattr(dashboard_view, "utcnow", lambda: datetime(2026, 11, 20, 12))
    client = login(app.test_client(), world["a"].user)
    _, html = page(client)  # the default: the last 12 months, December 2025 to November 2026
    assert "Dec 2025 – Nov 2026" in html and "$2,935.00 over the range" in html
    _, html = page(client, range="last_month")
    assert 'id="performance-period">October 2026<' in html and money(figures(html)["commission_month"]) == D("500.00")
    _, html = page(client, range="ytd")
    assert "$1,935.00 over the range" in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (custom("2026-11", "2026-10"), "range-to", "cannot be before the first"),
        (custom("", "2026-10"), "range-from", "Enter a month as YYYY-MM"),
        (custom("2026-13", "2026-10"), "range-from", "Enter a month as YYYY-MM"),
        (custom("1999-12", "2026-10"), "range-from", "from January 2000"),
        (custom("2020-01", "2026-01"), "range-to", "at most 60 months"),
        (custom("2026-01", "2999-01"), "range-to", "to this month"),
        ({"range": "forever"}, "range-preset", "Not a valid choice"),
    ],
)
def test_a_bad_range_is_refused_beside_its_field(app, world, params, field, message):
    client = login(app.test_client(), world["a"].user)
    status, html = page(client, **params)
    assert status == 422
    assert re.search(rf'id="{field}-error">[^<]*{message}', html), html[:200]
    response = client.get("/cp/", query_string=params, headers={"HX-Request": "true"})  # the swapped section
    assert response.status_code == 422 and f'id="{field}-error"' in response.get_data(as_text=True)


def test_htmx_range_answers_only_the_figures_and_the_url_renders_the_page(app, world):
    client = login(app.test_client(), world["a"].user)
    response = client.get("/cp/", query_string=custom("2026-11", "2026-11"), headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Vary" in response.headers
    assert body.lstrip().startswith('<section id="cp-performance"') and "Recent activity" not in body
    _, full = page(client, **custom("2026-11", "2026-11"))
    assert "Recent activity" in full and 'value="2026-11"' in full


def test_goal_set_with_progress_changed_and_removed(app, world):
    a = world["a"]
    client = login(app.test_client(), a.user)
    nov = custom("2026-11", "2026-11")
    response = client.post("/cp/goal", query_string=nov, data={"amount": "$500", "period": "month"})
    assert response.status_code == 303 and "range=custom" in response.headers["Location"]
    _, html = page(client, **nov)
    assert '$200.50</span> of <span class="money" data-goal="amount">$500.00</span> in November 2026' in html
    assert "40 % · $299.50 to go" in html

    response = client.post(
        "/cp/goal", query_string=nov, data={"amount": "1,000", "period": "quarter"}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "in Q4 2026" in body and "70 % · $299.50 to go" in body
    assert 'role="status">Goal saved.<' in body and body.lstrip().startswith('<section id="cp-performance"')
    goal = db.session.scalar(sa.select(PartnerGoal).where(PartnerGoal.partner_id == a.id))
    assert (goal.amount, goal.period) == (D("1000.00"), "quarter")
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(a.id))).all()
    assert actions.count("partner.goal_set") == 2

    client.post("/cp/goal", query_string=nov, data={"action": "remove"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerGoal)) == 0


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "", "period": "month"}, "goal-amount", "above zero"),
        ({"amount": "0", "period": "month"}, "goal-amount", "above zero"),
        ({"amount": "-5", "period": "month"}, "goal-amount", "negative"),
        ({"amount": "12.345", "period": "month"}, "goal-amount", ""),
        ({"amount": "abc", "period": "month"}, "goal-amount", ""),
        ({"amount": "9" * 40, "period": "month"}, "goal-amount", ""),
        ({"amount": "100", "period": "decade"}, "goal-period", "Not a valid choice"),
    ],
)
def test_a_bad_goal_is_refused_beside_its_field_and_nothing_is_saved(app, world, data, field, message):
    client = login(app.test_client(), world["a"].user)
    response = client.post("/cp/goal", data=data)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">[^<]*{message}', response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerGoal)) == 0


def test_a_viewer_sees_the_goal_but_cannot_set_it(app, world):
    viewer = factories.make_member(world["a"], role="viewer")
    db.session.commit()
    client = login(app.test_client(), viewer)
    html = client.get("/cp/").get_data(as_text=True)
    assert 'id="goal"' in html and 'action="/cp/goal' not in html
    assert client.post("/cp/goal", data={"amount": "10", "period": "month"}).status_code == 403


def test_quota_use_counts_the_leads_submitted_this_month(app, world):
    a = world["a"]
    a.monthly_lead_quota = 10
    for i in range(3):
        factories.make_lead(originator=a, title=f"Submitted {i}")
    db.session.commit()
    html = login(app.test_client(), a.user).get("/cp/").get_data(as_text=True)
    assert figures(html)["quota_used"] == "3 / 10"
    b_html = login(app.test_client(), world["b"].user).get("/cp/").get_data(as_text=True)
    assert figures(b_html)["quota_used"] == "No limit"


def steps_on(html: str) -> dict:
    return dict(re.findall(r'data-step="([a-z]+)" data-done="(yes|no)"', html))


def complete_a_module(user, partner) -> None:
    """What helper G's training records when a member completes a module."""
    module = TrainingModule(title="Welcome", kind="document", position=1, body="Hello.")
    db.session.add(module)
    db.session.flush()
    db.session.add(TrainingProgress(module_id=module.id, user_id=user.id, partner_id=partner.id, completed_at=utcnow()))


def onboard(partner) -> None:
    partner.contact_phone, partner.address = "+1 555 0100", "1 Main Street"
    logo = StoredFile(
        kind="logo", storage_key=f"logo/{partner.id}.png", original_name="l.png", content_type="image/png"
    )
    db.session.add(logo)
    db.session.flush()
    partner.logo_file_id = logo.id


def test_onboarding_checklist_ticks_itself_and_disappears(app, monkeypatch):
    partner = factories.make_partner(company="Newcomer")  # the factory fills in bank details
    db.session.commit()
    client = login(app.test_client(), partner.user)
    html = client.get("/cp/").get_data(as_text=True)
    assert steps_on(html) == {"profile": "no", "logo": "no", "bank": "yes", "lead": "no", "training": "no"}
    assert 'href="/cp/profile#bank"' in html and 'href="/cp/training"' in html and "1 of 5 done" in html

    onboard(partner)
    factories.make_lead(originator=partner, title="My first submission")  # submitted, allocated to nobody yet
    db.session.commit()
    html = client.get("/cp/").get_data(as_text=True)
    assert steps_on(html) == {"profile": "yes", "logo": "yes", "bank": "yes", "lead": "yes", "training": "no"}

    complete_a_module(partner.user, partner)
    db.session.commit()
    assert 'id="onboarding"' not in client.get("/cp/").get_data(as_text=True)
    # done once is done for the login session: the checklist is not read again
    monkeypatch.setattr(onboarding, "has_completed_any_module", lambda user: pytest.fail("the checklist was read"))
    assert 'id="onboarding"' not in client.get("/cp/").get_data(as_text=True)


def test_training_is_each_members_own_step(app):
    partner = factories.make_partner()
    onboard(partner)
    factories.make_lead(partner, title="Allocated to it")
    manager = factories.make_member(partner, role="manager")
    complete_a_module(partner.user, partner)
    db.session.commit()
    assert steps_on(login(app.test_client(), partner.user).get("/cp/").get_data(as_text=True)) == {}
    html = login(app.test_client(), manager).get("/cp/").get_data(as_text=True)
    assert steps_on(html) == {"profile": "yes", "logo": "yes", "bank": "yes", "lead": "yes", "training": "no"}


def test_the_dashboard_runs_a_small_fixed_number_of_statements(app, world):
    """Before issue #20 the page ran 5 statements; now 6 for an onboarded partner (+1: its goal), whatever the range:
    the rollup read that replaced partner_sums answers the cards, the range, the trend and the funnel at once, and
    the finished checklist is remembered for the login session."""
    a = world["a"]
    onboard(a)
    complete_a_module(a.user, a)
    db.session.add(PartnerGoal(partner_id=a.id, amount=D("100"), period="year"))
    db.session.commit()
    client = login(app.test_client(), a.user)
    assert 'id="onboarding"' not in client.get("/cp/").get_data(as_text=True)
    counts = {}
    for params in ({}, custom("2022-01", "2026-11"), custom("2026-11", "2026-11")):
        seen = []
        listener = lambda *_args, seen=seen: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/cp/", query_string=params).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        counts[str(params)] = len(seen)
    assert len(set(counts.values())) == 1, counts  # the range's length does not change the statements
    assert max(counts.values()) <= 6, counts


def test_demo_goal_is_seeded_once(app):
    from app.demo import goals as demo_goals

    partner = factories.make_partner(email="cp1@demo.test")
    demo_goals.seed()
    demo_goals.seed()
    goal = db.session.scalar(sa.select(PartnerGoal))
    assert (goal.partner_id, goal.amount, goal.period) == (partner.id, D("2500.00"), "month")
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "partner.goal_set")) == 1


def test_members_saving_a_first_goal_at_once_make_one_goal(app, world):
    """On PostgreSQL the posts leave together (the partner row's lock orders them); on SQLite one after another."""
    from tests.test_create_races import send_together

    a = world["a"]
    people = [a.user, *(factories.make_member(a, role="manager") for _ in range(3))]
    db.session.commit()
    clients = [login(app.test_client(), person) for person in people]
    bodies = [{"amount": f"{100 * (i + 1)}", "period": "month"} for i in range(len(clients))]
    answers = send_together(clients, "/cp/goal", bodies)
    assert sorted(answer.status_code for answer in answers) == [303] * len(clients)
    goals_saved = db.session.scalars(sa.select(PartnerGoal)).all()
    assert len(goals_saved) == 1 and goals_saved[0].amount in {D("100"), D("200"), D("300"), D("400")}
