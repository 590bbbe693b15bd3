"""LeadFlow PM: the application factory."""

import importlib
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import BASE_DIR, CONFIGS

# Blueprints outside the portals (each package defines `bp` and declares its roles per route).
SHARED_BLUEPRINTS = (
    "app.files",
    "app.account",
    "app.webhooks",
    "app.notifications",
    "app.join",
    "app.portals.public",
    "app.ops.metrics_view",  # GET /metrics and the request-latency hook
)


def create_app(config_name: str | None = None, **overrides) -> Flask:
    name = config_name or os.environ.get("LEADFLOW_CONFIG") or "development"
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(BASE_DIR / "instance"),
    )
    app.config.from_object(CONFIGS[name])
    app.config.update(overrides)
    app.config["CONFIG_NAME"] = name
    if app.config["TRUSTED_PROXIES"]:
        # Behind N reverse proxies: the client's address (login limits, audit, logs) and scheme from X-Forwarded-*.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    from app.production import check_config, register_logging

    check_config(app)
    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_web(app)
    if app.config.get("BENCH_FLOOR") or app.config.get("BENCH_QUERY_COUNT"):
        from app.tools.bench_floor import register_bench

        register_bench(app)
    from app.cli import register_cli

    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (the whole schema, for Alembic and relationships)
    from app.extensions import csrf, db, login_manager, migrate, redis_handle, sock

    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Prepared statements are kept between requests (app/web/transactions.py), each still planned for its values.
        connect_args = {"options": "-c plan_cache_mode=force_custom_plan"}
        # A pool as large as the request threads (gunicorn.conf.py), so no thread waits for a connection.
        pool = {"pool_size": app.config["DB_POOL_SIZE"], "max_overflow": app.config["DB_MAX_OVERFLOW"]}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **pool,
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "connect_args": connect_args,
        }
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    sock.init_app(app)
    redis_handle.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "basic"
    from app.web.transactions import register_transactions

    register_transactions(app)
    from app.reporting import rollups

    rollups.init_app(app)  # the session hook that keeps the rollups in step with the rows

    from app.accounts.sessions import load_user
    from app.accounts.throttle import LoginThrottle

    login_manager.user_loader(load_user)
    LoginThrottle.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app.auth import bp as auth_bp
    from app.core import bp as core_bp
    from app.portals.admin import bp as admin_bp
    from app.portals.cp import bp as cp_bp
    from app.portals.superadmin import bp as super_bp

    subdomains = bool(app.config["SUBDOMAIN_MODE"] and app.config["SERVER_NAME"])
    if subdomains:
        # app./admin./super. under SERVER_NAME (seed 000); one login cookie for all of them.
        app.subdomain_matching = True
        app.url_map.default_subdomain = ""
        if not app.config.get("SESSION_COOKIE_DOMAIN"):
            app.config["SESSION_COOKIE_DOMAIN"] = app.config["SERVER_NAME"].split(":")[0]
    app.register_blueprint(core_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    for blueprint, prefix, subdomain in (
        (cp_bp, "/cp", "app"),
        (admin_bp, "/admin", "admin"),
        (super_bp, "/super", "super"),
    ):
        app.register_blueprint(blueprint, url_prefix=prefix, subdomain=subdomain if subdomains else None)
    for name in SHARED_BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)


def register_web(app: Flask) -> None:
    from app import access, web
    from app.idempotency import register_idempotency
    from app.web.navigation import register_navigation

    app.before_request(access.enforce)
    from app.api import register_api
    from app.extensions import limiter

    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"] or app.config["REDIS_URL"] or "memory://"
    limiter.init_app(app)  # after access.enforce: the API's limits count per key or user, known by then
    register_api(app)
    app.jinja_env.globals["may"] = access.may  # show only the buttons that work for this person
    web.register_template_helpers(app)
    web.register_errors(app)
    web.register_security_headers(app)
    register_navigation(app)
    register_idempotency(app)  # after the access checks and the NUL guard: only a request that may act claims
