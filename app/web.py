"""Rendering helpers, error pages and security headers shared by every portal."""

import uuid
from decimal import Decimal

from flask import current_app, g, make_response, render_template, request
from flask_wtf.csrf import CSRFError


def is_htmx_partial() -> bool:
    """A partial is wanted only for a plain HTMX request: not boosted, not a history restore."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(template: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or only `partial` for an HTMX request. The page includes the same partial."""
    body = render_template(partial if partial and is_htmx_partial() else template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def money(value, symbol: str | None = None) -> str:
    if value is None:
        return "—"
    symbol = current_app.config["CURRENCY_SYMBOL"] if symbol is None else symbol
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def register_template_helpers(app) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions

    @app.context_processor
    def current_user_context():
        from flask_login import current_user

        from app.access import HOME
        from app.services.notifications import unread_count

        if not current_user.is_authenticated or current_user.status != "active":
            return {"portal": None, "unread_notifications": 0}
        portal = HOME[current_user.role].split(".")[0]
        return {"portal": portal, "unread_notifications": unread_count(current_user)}


def _error(status: int, template: str, **context):
    if is_htmx_partial():
        return make_response(render_template("errors/_message.html", status=status, **context), status)
    return make_response(render_template(template, status=status, **context), status)


def register_errors(app) -> None:
    @app.errorhandler(403)
    def forbidden(_e):
        return _error(403, "errors/403.html")

    @app.errorhandler(404)
    def not_found(_e):
        return _error(404, "errors/404.html")

    @app.errorhandler(405)
    def not_allowed(_e):
        return _error(405, "errors/generic.html", title="Method not allowed")

    @app.errorhandler(413)
    def too_large(_e):
        limit = app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024)
        return _error(413, "errors/generic.html", title=f"That upload is too large (the limit is {limit} MB).")

    @app.errorhandler(429)
    def too_many(_e):
        return _error(429, "errors/generic.html", title="Too many attempts. Please wait a minute and try again.")

    @app.errorhandler(CSRFError)
    def csrf_failed(e):
        if request.headers.get("HX-Request") == "true":
            response = make_response("The page expired; reloading.", 400)
            response.headers["HX-Refresh"] = "true"
            return response
        return _error(400, "errors/generic.html", title="Your form expired. Please go back, reload and try again.")

    @app.errorhandler(500)
    def server_error(_e):
        return _error(500, "errors/generic.html", title="Something went wrong on our side.")


def register_security_headers(app) -> None:
    @app.before_request
    def assign_request_id():
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex

    @app.after_request
    def security_headers(response):
        s3 = app.config.get("S3_ENDPOINT_URL") or ""
        extra = f" {s3}" if s3 else ""
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{extra}; connect-src 'self' ws: wss:{extra}; "
            f"form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
