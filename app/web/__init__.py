"""Rendering helpers, error pages and security headers shared by every portal."""

import logging
from functools import lru_cache, total_ordering
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    current_app,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict

from app.web.money import format_money
from app.web.times import register_times, viewer_zone_name


def is_htmx() -> bool:
    """The request was made by htmx (a partial, a boosted link or a history restore)."""
    return request.headers.get("HX-Request") == "true"


def htmx_redirect(target: str):
    """Send the browser to `target`: htmx follows HX-Redirect (a 303 would be followed inside its XHR)."""
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


def is_htmx_partial() -> bool:
    """A partial is wanted only for a plain HTMX request: not boosted, not a history restore."""
    headers = request.headers
    return is_htmx() and headers.get("HX-Boosted") != "true" and headers.get("HX-History-Restore-Request") != "true"


def render(template: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or only `partial` for an HTMX request. The page includes the same partial."""
    body = render_template(partial if partial and is_htmx_partial() else template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


@total_ordering
class LazyCount:
    """A count read from the database the first time a template uses it, and only then: the layout shows
    the bell's count, but most HTMX answers (a drag on the board, a preview) are fragments that never do."""

    __slots__ = ("_read", "_value")

    def __init__(self, read):
        self._read, self._value = read, None

    def __int__(self) -> int:
        if self._value is None:
            self._value = self._read()
        return self._value

    __index__ = __int__

    def __bool__(self) -> bool:
        return bool(int(self))

    def __str__(self) -> str:
        return str(int(self))

    __html__ = __str__

    def __eq__(self, other) -> bool:
        return int(self) == other

    def __lt__(self, other) -> bool:
        return int(self) < other

    __hash__ = None


def static_url(filename: str) -> str:
    """url_for("static", filename=...) for the layout's assets, with the static root built once per request."""
    root = g.get("static_root")
    if root is None:
        root = g.static_root = url_for("static", filename="")
    return root + filename


_ID_SLOT = "00000000-0000-0000-0000-000000000000"


def url_for_id(endpoint: str, **one_id) -> str:
    """url_for(endpoint, <name>=<id>) for tables of rows: each endpoint's URL is built once per request with a
    stand-in id, then only the id changes (url_for costs more than the rest of a row). Ids are UUIDs."""
    ((name, value),) = one_id.items()
    built = g.setdefault("id_urls", {})
    url = built.get((endpoint, name))
    if url is None:
        url = built[(endpoint, name)] = url_for(endpoint, **{name: _ID_SLOT})
    return url.replace(_ID_SLOT, str(value))


def memoized_macro(template: str, name: str, size: int):
    """A macro whose markup depends only on its arguments (it is rendered without the page's context), memoized on
    them and on what its URLs, amounts and times also depend on (the URL root, the currency symbol, the viewer's
    timezone). For the repeated pieces of a page (kanban cards, fee rows, settlement rows): a page whose rows did
    not change since they were last shown renders none of them again. The arguments must be hashable: plain values, rows, tuples."""

    @lru_cache(maxsize=size)
    def rendered(args: tuple, _script_root: str, _currency: str, _zone: str) -> str:
        return getattr(current_app.jinja_env.get_template(template).module, name)(*args)

    def render(*args) -> str:
        # The viewer's timezone is part of the key: a row shows its times in it (app.web.times).
        return rendered(args, request.script_root, current_app.config["CURRENCY_SYMBOL"], viewer_zone_name())

    return render


# A chart's card (SVG, download link, data table), rendered once per chart data: charts are immutable and hashable.
chart_card = memoized_macro("_macros/charts.html", "chart_card", size=256)


def register_template_helpers(app) -> None:
    # The app's symbol read directly, not through current_app: a board or a list formats hundreds of amounts.
    app.jinja_env.filters["money"] = lambda value, symbol=None: format_money(
        value, app.config["CURRENCY_SYMBOL"] if symbol is None else symbol
    )
    register_times(app)
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.globals["url_for_id"] = url_for_id
    app.jinja_env.globals["chart_card"] = chart_card
    app.jinja_env.globals["settlement_row"] = memoized_macro(
        "admin/platform_fees/partials/_settlement_row.html", "settlement_row", size=2_000
    )

    @app.context_processor
    def current_user_context():
        from flask_login import current_user

        from app.access import HOME
        from app.comms.notifications import unread_count

        # Emails are rendered by jobs, outside any request: there is no current user there.
        if not has_request_context() or not current_user.is_authenticated or current_user.status != "active":
            return {"portal": None, "unread_notifications": 0}
        portal = HOME[current_user.role].split(".")[0]
        return {"portal": portal, "unread_notifications": LazyCount(lambda: unread_count(current_user))}


def _error(status: int, template: str, **context):
    from app.api import problems

    if problems.is_api_request():
        return problems.problem(status, context.get("title"))
    if is_htmx_partial():
        return make_response(render_template("errors/_message.html", status=status, **context), status)
    return make_response(render_template(template, status=status, **context), status)


def register_errors(app) -> None:
    if not sa.event.contains(Session, "after_commit", _note_commit):  # a process-wide hook: once for every app
        sa.event.listen(Session, "after_commit", _note_commit)

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
        if is_htmx():
            response = make_response("The page expired; reloading.", 400)
            response.headers["HX-Refresh"] = "true"
            return response
        return _error(400, "errors/generic.html", title="Your form expired. Please go back, reload and try again.")

    @app.errorhandler(sa.exc.DBAPIError)
    def database_unavailable(exc):
        if not is_transient_database_error(exc):
            raise exc  # a real fault (a constraint, bad SQL): the 500 below, with its traceback in the log
        return database_fault_answer(exc)

    @app.errorhandler(500)
    def server_error(_e):
        from app.extensions import db

        # Undo the failed request's writes now (this also removes uploaded bytes): the error page must
        # not query through a broken transaction, and nothing half-done may be committed later.
        db.session.rollback()
        return _error(500, "errors/generic.html", title="Something went wrong on our side.")


# -- the database went away mid-request ---------------------------------------------------------------------------

COMMITTED = "leadflow_committed"  # flask.g: this request's transaction committed (set by an after_commit hook)
RETRY_AFTER_SECONDS = 5
database_log = logging.getLogger("leadflow.database")


def is_transient_database_error(exc: sa.exc.DBAPIError) -> bool:
    """The connection was lost (killed, restarted, network) or the database asked for a retry (a serialization
    failure, a lock it gave up on, shutting down): psycopg raises all of these as OperationalError."""
    return bool(exc.connection_invalidated) or isinstance(exc, sa.exc.OperationalError)


def _note_commit(session) -> None:
    if has_request_context() and not session.in_nested_transaction():
        setattr(g, COMMITTED, True)


def database_fault_answer(exc):
    """What a request answers when the database failed under it.

    Before its transaction committed, nothing it did was kept: 503 "try again" (with Retry-After), which is true
    and safe. After the commit (the failure came from a read that followed: the redirect's URL, a fragment, a
    hook) the change IS saved, so "try again" would make the user do it twice: the answer is the success one a
    form gets, the page reloaded (HX-Refresh) or a redirect back to where the form was. The page is rendered
    without the context processors and the rolled-back session, which would query the database again."""
    from app.extensions import db

    committed = bool(g.get(COMMITTED))
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    database_log.warning(
        "database unavailable during %s %s (%s); committed before: %s",
        request.method,
        request.path,
        reason,
        committed,
        extra={"fields": {"request_id": g.get("request_id"), "committed": committed}},
    )
    try:
        db.session.rollback()  # undo what is not committed (and drop uploaded bytes); the connection is discarded
    except sa.exc.SQLAlchemyError:
        db.session.close()
    from app.api import problems

    if problems.is_api_request():  # an API client retries with its Idempotency-Key: a committed change replays
        detail = "The change was saved; the answer could not be read." if committed else "Nothing was changed."
        return problems.problem(503, f"{detail} Try again in a few seconds.", headers={"Retry-After": "5"})
    if committed:
        if is_htmx():
            response = make_response("", 200)
            response.headers["HX-Refresh"] = "true"
            return response
        return redirect(_same_site_referrer() or url_for("core.index"), 303)
    title = "The service is temporarily unavailable. Nothing was changed: please try again in a few seconds."
    env = current_app.jinja_env
    if is_htmx_partial():
        body = env.get_template("errors/_message.html").render(status=503, title=title)
    else:
        body = env.get_template("errors/_page.html").render(status=503, heading=title, detail="", portal=None)
    response = make_response(body, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _same_site_referrer() -> str | None:
    referrer = request.referrer or ""
    return referrer if referrer and urlsplit(referrer).netloc == request.host else None


def _signed_in() -> bool:
    # Read from the session, not the user row: after a commit the row is expired, and loading it again here, once
    # the answer is made, would turn a connection lost at that moment into a 500 for a change that was saved.
    return "_user_id" in session


def content_security_policy(config) -> str:
    """Only the app's own scripts, no inline script, no framing. File storage and Stripe Checkout widen it a little."""
    storage = ""
    if config.get("STORAGE_BACKEND") == "s3":
        storage = " " + (config.get("S3_ENDPOINT_URL") or "https://*.amazonaws.com")
    checkout = " https://checkout.stripe.com" if config.get("STRIPE_SECRET_KEY") else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{storage}; connect-src 'self' ws: wss:{storage}; "
        f"form-action 'self'{storage}{checkout}; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    )


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values if isinstance(value, str))


def register_security_headers(app) -> None:
    """Headers on every response, and a guard against input no column can store.
    The request id itself is assigned first thing, in app.production."""
    from app.validators import register_form_parts_guard

    csp = content_security_policy(app.config)
    register_form_parts_guard()  # a file part where a form expects text is ignored, not a TypeError

    @app.before_request
    def refuse_nul_bytes():
        # PostgreSQL cannot take NUL in text, and no person types one. In a query string (filters, which only
        # read) it is dropped; in a form, which writes, the request is refused for every form at once.
        if _has_nul(request.args.values()):
            request.args = ImmutableMultiDict([(k, v.replace("\x00", "")) for k, v in request.args.items(multi=True)])
        filenames = [f.filename for f in request.files.values()]
        if _has_nul(request.form.values()) or _has_nul(filenames):
            return _error(
                400,
                "errors/generic.html",
                title="Your input contains a character that cannot be accepted (a NUL byte). Remove it and try again.",
            )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if _signed_in() and response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")  # no account page from the cache after logout
        if app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
