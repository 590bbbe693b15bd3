"""App factory, configuration, health check, subdomain mode, CLI commands and demo data."""

import sqlalchemy as sa

from app.extensions import db
from app.models import ChannelPartner, Lead, Notification, PlatformFeeConfig, User
from tests import factories
from tests.conftest import age_session, login, make_app, redis_url, requires_redis


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "not configured"}


@requires_redis
def test_healthz_pings_redis_when_configured():
    app = make_app(REDIS_URL=redis_url())
    response = app.test_client().get("/healthz")
    assert response.json["redis"] == "ok"


def test_healthz_says_503_when_the_database_is_down():
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["database"].startswith("error")


def test_database_and_redis_urls_are_honoured_by_every_configuration(monkeypatch):
    import importlib

    import config

    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/leadflow")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/2")
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    reloaded = importlib.reload(config)
    try:
        for cls in (reloaded.DevelopmentConfig, reloaded.TestConfig, reloaded.ProductionConfig):
            assert cls.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db.example/leadflow", cls
            assert cls.REDIS_URL == "redis://cache.example:6379/2", cls
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_root_redirects_each_role_home(app):
    homes = {"admin": "/admin/", "super_admin": "/super/"}
    for role, home in homes.items():
        client = login(app.test_client(), factories.make_user(role))
        db.session.commit()
        assert client.get("/").headers["Location"] == home
    partner = factories.make_partner()
    db.session.commit()
    assert login(app.test_client(), partner.user).get("/").headers["Location"] == "/cp/"
    assert app.test_client().get("/").headers["Location"] == "/auth/login"


def test_portal_pages_share_one_layout_and_error_pages_look_the_same(app):
    partner = factories.make_partner(company="Layout Co")
    db.session.commit()
    client = login(app.test_client(), partner.user)
    page = client.get("/cp/").get_data(as_text=True)
    assert 'id="sidebar"' in page and 'id="notification-badge"' in page and partner.user.initials in page
    forbidden = client.get("/admin/")
    assert forbidden.status_code == 403 and 'id="sidebar"' in forbidden.get_data(as_text=True)
    missing = client.get("/cp/does-not-exist")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)
    assert "cdn" not in page.lower() and "https://" not in page


def test_subdomain_mode_maps_the_portals_to_their_subdomains():
    app = make_app(SUBDOMAIN_MODE=True, SERVER_NAME="leadflow.test")
    with app.app_context():
        admin = factories.make_user("admin")
        db.session.commit()
        client = app.test_client()
        client.post(
            "/auth/login",
            data={"email": admin.email, "password": factories.PASSWORD},
            base_url="http://leadflow.test",
        )
        assert client.get("/admin/", base_url="http://admin.leadflow.test").status_code == 200
        assert client.get("/admin/", base_url="http://leadflow.test").status_code == 404
        rules = {rule.endpoint: rule.subdomain for rule in app.url_map.iter_rules()}
        assert rules["cp.dashboard"] == "app" and rules["superadmin.dashboard"] == "super"


@requires_redis
def test_login_rate_limit_is_shared_through_redis():
    import redis

    client_redis = redis.Redis.from_url(redis_url())
    for key in client_redis.scan_iter("LIMITS*"):
        client_redis.delete(key)
    first = make_app(RATELIMIT_STORAGE_URI=redis_url())
    second = make_app(RATELIMIT_STORAGE_URI=redis_url())
    with first.app_context():
        factories.make_partner(email="shared@partner.test")
        db.session.commit()
    data = {"email": "shared@partner.test", "password": "wrong-password"}
    codes = [first.test_client().post("/auth/login", data=data).status_code for _ in range(5)]
    codes += [second.test_client().post("/auth/login", data=data).status_code for _ in range(6)]
    assert codes[:10] == [401] * 10 and codes[10] == 429  # the second process knew about the first's failures
    for key in client_redis.scan_iter("LIMITS*"):
        client_redis.delete(key)


def test_create_superadmin_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-superadmin", "--email", "Owner@Example.test", "--password", "owner-password-1"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "owner@example.test"))
    assert user.role == "super_admin" and user.status == "active"
    short = runner.invoke(args=["create-superadmin", "--email", "x@example.test", "--password", "short"])
    assert short.exit_code != 0


def test_seed_demo_is_idempotent_and_covers_every_stage(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    emails = set(db.session.scalars(sa.select(User.email)))
    assert {
        "super@demo.test",
        "admin@demo.test",
        "cp1@demo.test",
        "cp2@demo.test",
        "cp3@demo.test",
        "pending@demo.test",
    } <= emails
    statuses = dict(db.session.execute(sa.select(User.email, User.status)).all())
    assert statuses["pending@demo.test"] == "pending"
    # cp1-3, pending, unconfirmed (email confirmation) and cp4 (inactive)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelPartner)) == 6
    rule = db.session.scalar(sa.select(PlatformFeeConfig).where(PlatformFeeConfig.is_active.is_(True)))
    assert (rule.fee_type, rule.fee_value) == ("percentage", 10)
    stages = set(db.session.scalars(sa.select(Lead.kanban_stage).distinct()))
    if stages:  # the leads demo module fills every stage
        assert stages == {"new", "contacted", "qualified", "proposal", "negotiation", "won", "lost"}
    # the demo webhook's failed delivery was told to cp1's owner and manager, once (seeding twice adds nothing)
    told = sa.select(User.email).join(Notification, Notification.user_id == User.id)
    told = sorted(db.session.scalars(told.where(Notification.event == "webhook_failing")))
    assert told == ["cp1-manager@demo.test", "cp1@demo.test"]


def test_badge_polling_does_not_keep_an_idle_session_alive(app):
    from datetime import timedelta

    partner = factories.make_partner()
    db.session.commit()
    client = login(app.test_client(), partner.user)
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    age_session(client, created_ago=idle - timedelta(seconds=30), seen_ago=idle - timedelta(seconds=30))
    assert client.get("/notifications/badge").status_code == 200
    # a minute later, with only polling in between
    age_session(client, created_ago=idle + timedelta(seconds=30), seen_ago=idle + timedelta(seconds=30))
    assert client.get("/cp/").headers["Location"].startswith("/auth/login")
