"""RFC 9457 problem details: every error the API answers is one of these, with the fields' messages for a 422."""

from http import HTTPStatus

import marshmallow as ma
from flask import current_app, request

from app.errors import Refused
from app.extensions import db

API_PREFIX = "/api/v1/"
CONTENT_TYPE = "application/problem+json"


class ProblemSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "A URI naming the kind of problem (about:blank: see status)"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "For 422: each invalid field and what is wrong with it"},
    )


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def problem(status: int, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None):
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "instance": request.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = {
            name: messages if isinstance(messages, list) else [messages] for name, messages in errors.items()
        }
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = CONTENT_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 405 and "Allow" not in response.headers:
        response.headers["Allow"] = ", ".join(_allowed_methods())
    return response


def _allowed_methods() -> list[str]:
    """The methods the requested path answers (RFC 9110: a 405 lists them in Allow), whichever handler made it."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    return sorted(adapter.allowed_methods(request.path) or {"OPTIONS"})


def flatten(messages) -> dict[str, list[str]]:
    """webargs' {location: {field: [messages]}} (nested for nested fields) as {"a.b": [messages]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat.setdefault(prefix or "body", []).extend(value if isinstance(value, list) else [str(value)])

    for location_messages in (messages or {}).values():
        walk("", location_messages)
    return flat


def from_http_exception(error):
    """An HTTPException raised in the API (abort, webargs' 422, a 401 from the credentials check)."""
    if error.code >= 500:
        db.session.rollback()  # nothing half-done is kept, and the answer must not query a broken transaction
    data = getattr(error, "data", None) or {}
    detail = data.get("message") or (error.description if error.description != type(error).description else None)
    errors = flatten(data.get("messages")) if "messages" in data else data.get("errors")
    headers = dict(data.get("headers") or {})
    if error.code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api", ApiKey realm="api"')
    if error.code == 429 and getattr(error, "retry_after", None):
        headers.setdefault("Retry-After", str(error.retry_after))
    return problem(error.code, detail, errors=errors, headers=headers)


def from_refusal(exc: Refused):
    """A business rule said no (409), or the data did not pass the operation's own checks (422)."""
    db.session.rollback()
    errors = getattr(exc, "errors", None) or ({exc.field: [str(exc)]} if exc.field else None)
    return problem(exc.status, str(exc) or None, errors=errors)
