"""Idempotency keys: a form sent twice (a double click, a retry, five tabs at once) creates once and answers alike.

Every form that creates something carries a hidden `idempotency_key`, a fresh uuid4 each time the form is
rendered: `IdempotentForm` for WTForms forms, `idempotency_field()` in hand-written templates. A POST that
carries one claims it before its view runs, with an INSERT into idempotency_keys in the request's own
transaction, which the view then commits together with what it created. A concurrent twin's INSERT waits on
the unique (user_id, key) index until the first has committed (PostgreSQL), finds the key taken, waits for the
first's answer to be recorded and replays it: the same redirect, the same partial. Nothing is created twice and
nobody is notified twice. A first submission that is refused (422, 409, an error) rolls its claim back with
everything else, so the key can be sent again.

A POST without a key (a page rendered before keys existed, a client that sends none) is served as before; a
key sent again with other contents is refused with 409.
"""

import hashlib
import logging
import re
import secrets
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from wtforms import HiddenField
from wtforms.validators import Optional, Regexp

from app.extensions import db
from app.models import IdempotencyKey
from app.models.base import utcnow
from app.web import is_htmx

FIELD = "idempotency_key"
HEADER = "Idempotency-Key"  # what the API (/api/v1/) sends instead of the form field
CHANGES = ("POST", "PUT", "PATCH", "DELETE")
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEEP = timedelta(days=1)  # a twin arrives within seconds; a key older than this is only a stored answer
WAIT_SECONDS = 15.0  # how long a twin waits for the first submission's answer to be recorded
PRUNE_ONE_IN = 20  # a user's keys older than KEEP are deleted by one answer in this many (a statement saved)
MAX_BODY = 512 * 1024  # larger answers are not stored: a twin is sent back to the page instead
# The headers that make the answer what it is (where it leads, what htmx does with it).
ANSWER_HEADERS = (
    "Location", "Content-Type", "Vary", "HX-Redirect", "HX-Refresh", "HX-Location", "HX-Push-Url",
    "HX-Replace-Url", "HX-Trigger", "HX-Retarget", "HX-Reswap",
)  # fmt: skip
KEYS = IdempotencyKey.__table__
log = logging.getLogger(__name__)


def new_key() -> str:
    return uuid.uuid4().hex


class IdempotencyKeyField(HiddenField):
    """A new key each time it is rendered (one form object may be rendered on every row of a list), except a
    submitted form shown again for correction, which keeps its key: nothing was created with it."""

    def _value(self) -> str:
        submitted = self.raw_data[0] if self.raw_data else ""
        claim = g.get("idempotency_claim") if has_request_context() else None
        used = claim is not None and claim["key"] == submitted and claim["state"] == "committed"
        return submitted if KEY.match(submitted) and not used else new_key()


class IdempotentForm(FlaskForm):
    """A form whose submission creates something: it carries its idempotency key."""

    idempotency_key = IdempotencyKeyField(
        validators=[Optional(), Regexp(KEY.pattern, message="Reload the page and try again.")]
    )


def idempotency_field() -> Markup:
    """The hidden key input, for a form written by hand in a template (Jinja global)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, new_key())


def register_idempotency(app) -> None:
    """Registered after the access checks and CSRF, so only a request that may act claims its key."""
    app.jinja_env.globals["idempotency_field"] = idempotency_field
    app.jinja_env.globals["idempotency_key"] = new_key  # for a button's hx-vals
    app.before_request(claim_submitted_key)
    app.after_request(record_answer)


# --- claiming -------------------------------------------------------------------------------------


def submitted_key() -> tuple[str, str] | None:
    """(field name, key) of the request's key field (it may carry a form prefix), if it holds a well-formed key.
    htmx sends a DELETE's fields in the query string, so they are looked for there too."""
    if request.method not in CHANGES or not current_user.is_authenticated:
        return None
    if _is_api():  # the API's header (SPEC 9.5); a malformed one is refused before anything is done
        value = request.headers.get(HEADER)
        if value is not None and not KEY.match(value):
            _api_refusal(f"{HEADER} must be 16 to 64 letters, digits, '-' or '_' (a UUID will do).")
        return (HEADER, value) if value else None
    for name in request.values:
        if name == FIELD or name.endswith(f"-{FIELD}"):
            value = request.values.get(name, "")
            return (name, value) if KEY.match(value) else None
    return None


def fingerprint(key_field: str) -> str:
    """What was sent (path and fields, file names; not the CSRF token or the key), to tell a twin from a reuse."""
    digest = hashlib.sha256(f"{request.method} {request.path}".encode())
    if _is_api():
        digest.update(request.get_data())
        return digest.hexdigest()
    for name, value in sorted(request.values.items(multi=True)):
        if name not in ("csrf_token", key_field):
            digest.update(repr((name, value)).encode())
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        digest.update(repr((name, upload.filename)).encode())
    return digest.hexdigest()


def claim_submitted_key():
    """before_request: claim the form's key, or answer as the submission that claimed it did."""
    found = submitted_key()
    if found is None:
        return None
    field, key = found
    identity = {"user_id": current_user.id, "key": key}
    sent = {"endpoint": (request.endpoint or "")[:120], "request_hash": fingerprint(field)}
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if _insert_if_new({**identity, **sent}):
            g.idempotency_claim = {**identity, "state": "pending"}
            return None
        first = db.session.execute(
            sa.select(KEYS.c.endpoint, KEYS.c.request_hash, KEYS.c.completed_at, KEYS.c.response).where(
                KEYS.c.user_id == identity["user_id"], KEYS.c.key == key
            )
        ).one_or_none()
        if first is not None and (first.endpoint, first.request_hash) != (sent["endpoint"], sent["request_hash"]):
            if _is_api():
                _api_refusal(f"This {HEADER} was used with another request; send a new key for new contents.")
            return _refusal("This form was already sent with other contents. Reload the page to send it again.")
        if first is not None and first.completed_at is not None:
            return replay(first.response)
        if time.monotonic() > deadline:
            return _refusal("This form is still being sent. Reload the page in a moment to see the result.")
        # The first submission is committed; its answer is being recorded, on a connection of its own: give ours
        # back to the pool while waiting, or a burst of twins can hold every connection that answer needs.
        db.session.rollback()
        time.sleep(0.05)


def _insert_if_new(values: dict) -> bool:
    """INSERT the key unless it exists. On PostgreSQL this waits for an uncommitted twin's INSERT to end: if that
    twin commits, nothing is inserted (False); if it rolls back, this one is."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert(KEYS).values(**values).on_conflict_do_nothing(index_elements=["user_id", "key"])
    return db.session.execute(statement.returning(KEYS.c.id)).scalar_one_or_none() is not None


@sa.event.listens_for(Session, "after_commit")
def _claim_committed(session) -> None:
    claim = g.get("idempotency_claim") if has_request_context() else None
    if claim and claim["state"] == "pending" and not session.in_nested_transaction():
        claim["state"] = "committed"


@sa.event.listens_for(Session, "after_rollback")
def _claim_rolled_back(session) -> None:
    claim = g.get("idempotency_claim") if has_request_context() else None
    if claim and claim["state"] == "pending" and not session.in_nested_transaction():
        claim["state"] = "released"  # the request was refused: the key may be sent again


# --- answering ------------------------------------------------------------------------------------


def record_answer(response):
    """after_request: once the view committed its claim, store its answer for the twins (and prune old keys)."""
    claim = g.pop("idempotency_claim", None)
    if claim is None or claim["state"] != "committed":
        return response  # no key, or refused: an uncommitted claim is rolled back with the request
    answer = saved(response)
    if g.get("idempotency_private_answer"):
        # The answer shows a secret once (a new API key): it is never written here, and a twin is sent back to
        # the page (replay() with no body), where the key shows without its secret.
        answer = {"status": answer["status"], "headers": [], "body": None}
    try:
        # On a connection of its own: the request's transaction is done, and a twin is waiting for this row.
        # Each statement its own transaction (one round trip, not BEGIN ... COMMIT around it).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            where = sa.and_(KEYS.c.user_id == claim["user_id"], KEYS.c.key == claim["key"])
            connection.execute(sa.update(KEYS).where(where).values(completed_at=utcnow(), response=answer))
            if secrets.randbelow(PRUNE_ONE_IN) == 0:  # old keys go on average every PRUNE_ONE_IN-th answer
                old = (
                    sa.select(KEYS.c.id)
                    .where(KEYS.c.user_id == claim["user_id"], KEYS.c.created_at < utcnow() - KEEP)
                    .with_for_update(skip_locked=True)
                )
                connection.execute(sa.delete(KEYS).where(KEYS.c.id.in_(old)))
    except sa.exc.SQLAlchemyError:
        # What the form created is committed: its answer stands. A twin now waits, then is told to reload.
        log.exception("could not record the answer of idempotency key %s", claim["key"])
    return response


def saved(response) -> dict:
    """The answer as stored: status, the headers that matter and the body (text only, and not too large)."""
    headers = [[name, value] for name, value in response.headers.items() if name in ANSWER_HEADERS]
    body = None
    if (
        response.status_code < 500
        and not response.is_streamed
        and not response.direct_passthrough
        and (response.mimetype or "").startswith(("text/", "application/json"))
        and (response.content_length or 0) <= MAX_BODY
    ):
        body = response.get_data(as_text=True)
    return {"status": response.status_code, "headers": headers, "body": body}


def replay(answer: dict | None):
    """The first submission's answer again. Without a stored body (too large, binary, a failure after the commit)
    the twin is sent back to where it came from, where what the first submission did shows."""
    if answer is None or (answer["body"] is None and not 300 <= answer["status"] < 400):
        return _back_to_the_page()
    response = current_app.response_class(answer["body"] or "", status=answer["status"])
    for name, value in answer["headers"]:
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _back_to_the_page():
    referrer = request.referrer or ""
    target = referrer if referrer.startswith(request.host_url) else request.host_url
    response = current_app.response_class("", status=303)
    if is_htmx():
        response.status_code, response.headers["HX-Refresh"] = 200, "true"
    else:
        response.headers["Location"] = target
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/v1/")


def _api_refusal(message: str):
    from flask_smorest import abort

    abort(422, message=message, errors={HEADER: [message]})


def _refusal(message: str):
    from app.web import _error

    return _error(409, "errors/generic.html", title=message)
