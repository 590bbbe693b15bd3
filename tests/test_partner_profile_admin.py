"""Partner capabilities and profile (issue 17 item 2): the generated code, tier, monthly quota, capabilities and
`inactive`, set by an admin only; an inactive partner is offered no leads but keeps its login and its money."""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.leads import pipeline
from app.models import AuditEvent, ChannelPartner
from app.models.partners import new_partner_code
from app.partners import settings
from tests import factories
from tests.conftest import login
from tests.world_parts.w30_commissions import won_transaction

HX = {"HX-Request": "true"}
SETTINGS = {"tier": "gold", "monthly_lead_quota": "25", "cap_originates": "y", "cap_works": "y", "status": "approved"}


@pytest.fixture
def people(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Northwind Solutions")
    other = factories.make_partner(company="Zephyr Resellers")
    boss = factories.make_user("super_admin")
    db.session.commit()
    return {"admin": admin, "cp": partner, "other": other, "super": boss}


def fresh(partner) -> ChannelPartner:
    db.session.expire_all()
    return db.session.get(ChannelPartner, partner.id)


def test_every_partner_gets_a_short_readable_unique_code(app, people):
    codes = [people["cp"].code, people["other"].code, *(new_partner_code() for _ in range(2000))]
    assert all(re.fullmatch(r"CP-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}", code) for code in codes)
    assert people["cp"].code != people["other"].code
    clash = factories.make_user("channel_partner")
    db.session.add(ChannelPartner(user_id=clash.id, company_name="Clash", status="approved", code=people["cp"].code))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    partner = people["cp"]
    for user, url in (
        (partner.user, "/cp/profile"),
        (people["admin"], f"/admin/partners/{partner.id}"),
        (people["super"], f"/super/partners/{partner.id}"),
    ):
        html = login(app.test_client(), user).get(url).get_data(as_text=True)
        assert partner.code in html and "Works assigned leads" in html and "Bronze" in html, url


def test_admin_sets_tier_quota_capabilities_and_inactive_audited(app, people):
    partner, admin = people["cp"], people["admin"]
    client = login(app.test_client(), admin)
    response = client.post(
        f"/admin/partners/{partner.id}/settings", data={**SETTINGS, "cap_buys": "y", "status": "inactive"}, headers=HX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="settings-card"' in html and "<html" not in html
    assert "Partner settings saved." in html
    partner = fresh(partner)
    assert (partner.tier, partner.monthly_lead_quota, partner.status) == ("gold", 25, "inactive")
    assert (partner.cap_originates, partner.cap_works, partner.cap_buys, partner.cap_supplies) == (
        True,
        True,
        True,
        False,
    )
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "partner.settings_changed"))
    assert event.actor_id == admin.id
    assert event.before == {"tier": "bronze", "monthly_lead_quota": None, "cap_buys": False, "status": "approved"}
    assert event.after == {
        "tier": "gold",
        "monthly_lead_quota": 25,
        "cap_buys": True,
        "status": "inactive",
        "code": partner.code,
    }
    # the same again changes nothing; back to active and no quota, without HTMX: a redirect
    same = client.post(
        f"/admin/partners/{partner.id}/settings", data={**SETTINGS, "cap_buys": "y", "status": "inactive"}
    )
    assert same.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1
    back = client.post(f"/admin/partners/{partner.id}/settings", data={**SETTINGS, "monthly_lead_quota": ""})
    assert back.status_code == 302
    partner = fresh(partner)
    assert (partner.status, partner.monthly_lead_quota, partner.cap_buys) == ("approved", None, False)
    page = client.get(f"/admin/partners/{partner.id}").get_data(as_text=True)
    assert "settings changed" in page  # in the partner's history


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("monthly_lead_quota", "-1", "Enter a whole number from 0 to 1,000,000."),
        ("monthly_lead_quota", "1000001", "Enter a whole number from 0 to 1,000,000."),
        ("monthly_lead_quota", "ten", "Not a valid integer value."),
        ("tier", "diamond", "Not a valid choice"),
        ("tier", "", "Not a valid choice"),
        ("status", "suspended", "Not a valid choice"),
    ],
)
def test_bad_settings_answer_422_beside_the_field(app, people, field, value, message):
    client = login(app.test_client(), people["admin"])
    response = client.post(f"/admin/partners/{people['cp'].id}/settings", data={**SETTINGS, field: value}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(message)}', html), html[:2000]
    assert fresh(people["cp"]).tier == "bronze"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_only_approved_and_inactive_partners_toggle_active(app, people):
    pending = factories.make_partner(status="pending")
    db.session.commit()
    client = login(app.test_client(), people["admin"])
    page = client.get(f"/admin/partners/{pending.id}").get_data(as_text=True)
    assert 'id="settings-card"' in page and 'name="status"' not in page  # no active/inactive choice offered
    saved = client.post(f"/admin/partners/{pending.id}/settings", data={**SETTINGS, "status": "inactive"})
    assert saved.status_code == 302 and fresh(pending).status == "pending" and fresh(pending).tier == "gold"
    with pytest.raises(settings.SettingsError, match="Only an approved partner can be made inactive"):
        settings.update(fresh(pending), {"status": "inactive"}, actor=people["admin"])


@pytest.mark.parametrize("role", ["cp", "super"])
def test_a_partner_or_the_super_admin_cannot_change_them(app, people, role):
    user = people["cp"].user if role == "cp" else people["super"]
    client = login(app.test_client(), user)
    response = client.post(f"/admin/partners/{people['cp'].id}/settings", data={**SETTINGS, "status": "inactive"})
    assert response.status_code == 403
    assert (fresh(people["cp"]).tier, fresh(people["cp"]).status) == ("bronze", "approved")
    with pytest.raises(settings.SettingsError):
        settings.update(fresh(people["cp"]), {"tier": "gold"}, actor=user)


def test_an_inactive_partner_is_not_offered_leads_and_allocation_is_refused(app, people):
    partner, admin = people["cp"], people["admin"]
    settings.update(partner, {"status": "inactive"}, actor=admin)
    lead = factories.make_lead(title="Unallocated deal")
    db.session.commit()
    client = login(app.test_client(), admin)
    page = client.get(f"/admin/leads/{lead.id}").get_data(as_text=True)
    assert str(people["other"].id) in page and str(partner.id) not in page  # the allocation picker
    assert str(partner.id) not in client.get("/admin/leads/new").get_data(as_text=True)
    answer = client.post(
        f"/admin/leads/{lead.id}/allocate",
        data={"allocate-partner": str(partner.id), "allocate-version": str(lead.version), "allocate-override_type": ""},
        headers=HX,
    )
    assert answer.status_code == 422 and "Not a valid choice" in answer.get_data(as_text=True)
    with pytest.raises(pipeline.PipelineError, match="Northwind Solutions is inactive and takes no new leads"):
        pipeline.allocate(db.session.get(type(lead), lead.id), fresh(partner), admin)
    db.session.rollback()
    assert db.session.get(type(lead), lead.id).allocated_to is None
    # a partner that does not work assigned leads is not offered either
    settings.update(fresh(people["other"]), {"cap_works": False}, actor=admin)
    db.session.commit()
    assert str(people["other"].id) not in client.get(f"/admin/leads/{lead.id}").get_data(as_text=True)
    with pytest.raises(pipeline.PipelineError, match="works assigned leads"):
        pipeline.allocate(db.session.get(type(lead), lead.id), fresh(people["other"]), admin)


def test_an_inactive_partner_logs_in_sees_a_notice_and_its_money(app, people):
    partner, admin = people["cp"], people["admin"]
    tx = won_transaction(partner, admin, "Old deal", status="due")
    settings.update(partner, {"status": "inactive"}, actor=admin)
    db.session.commit()
    client = app.test_client()
    logged_in = client.post("/auth/login", data={"email": partner.user.email, "password": factories.PASSWORD})
    assert logged_in.status_code == 302 and logged_in.headers["Location"].endswith("/cp/")
    dashboard = client.get("/cp/").get_data(as_text=True)
    assert "inactive-notice" in dashboard and "not offered new leads" in dashboard
    assert "Old deal" in client.get("/cp/commissions").get_data(as_text=True)
    assert client.get(f"/cp/commissions/{tx.id}").status_code == 200
    assert "inactive-notice" not in login(app.test_client(), people["other"].user).get("/cp/").get_data(as_text=True)
    listed = login(app.test_client(), admin).get("/admin/partners?tab=approved").get_data(as_text=True)
    assert "Northwind Solutions" in listed and "Inactive" in listed


def test_demo_data_shows_every_kyc_state_tier_and_an_inactive_partner_and_seeds_once(app):
    from schwifty import IBAN

    from app.demo import seed_all

    seed_all()
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    seed_all()  # the second run changes nothing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events
    partners = {p.user.email: p for p in db.session.scalars(sa.select(ChannelPartner))}
    assert {partners[f"cp{n}@demo.test"].kyc_status for n in (1, 2, 3)} == {"verified", "unverified", "rejected"}
    assert partners["cp3@demo.test"].kyc_note and partners["cp1@demo.test"].kyc_reviewed_by is not None
    assert {p.tier for p in partners.values()} >= {"bronze", "silver", "gold", "platinum"}
    assert partners["cp4@demo.test"].status == "inactive" and partners["cp4@demo.test"].user.status == "active"
    ibans = [p.bank_iban for p in partners.values() if p.bank_iban]
    assert len(ibans) == 3 and all(IBAN(iban).compact == iban for iban in ibans)
