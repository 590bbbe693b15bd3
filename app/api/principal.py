"""Who is calling the API: an API key (X-API-Key) or a user's access token (Authorization: Bearer). No cookie
counts here, so no CSRF either. app.access.enforce hands every /api/v1/ request to `enforce`, which applies the
same role and member-role rules as the pages, plus the key's scopes."""

from dataclasses import dataclass, field

from flask import current_app, g, request
from flask_login import current_user
from flask_smorest import abort

from app.access import PUBLIC, allowed_roles_for, member_roles_for
from app.accounts import api_keys, api_tokens
from app.extensions import login_manager
from app.models import ApiKey, User
from app.models.api import SCOPES


@dataclass(frozen=True)
class Principal:
    user: User
    key: ApiKey | None = None
    scopes: frozenset = field(default_factory=lambda: frozenset(SCOPES))

    @property
    def bucket(self) -> str:
        """What the rate limit counts: each key on its own, and a user's tokens together."""
        return f"api-key:{self.key.id}" if self.key is not None else f"api-user:{self.user.id}"


ANY_SCOPE = "*"  # an operation any valid key may call (who am I)


def scope(name: str):
    """The scope an API key needs for this operation (user tokens hold every scope their role allows)."""
    assert name in SCOPES or name == ANY_SCOPE, name

    def decorate(view):
        view.api_scope = name
        return view

    return decorate


def _authenticate() -> Principal | None:
    secret = request.headers.get("X-API-Key")
    if secret:
        key = api_keys.find(secret.strip())
        return Principal(key.user, key, frozenset(key.scopes)) if key is not None else None
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer" and token:
        found = api_tokens.user_for(token.strip())
        return Principal(found[0]) if found is not None else None
    return None


def enforce(endpoint: str):
    """before_request for the API: authenticate, then the role, member-role and scope checks (deny by default)."""
    allowed = allowed_roles_for(endpoint)
    login_manager._update_request_context_with_user(None)  # never the session's user: the cookie does not count
    if allowed is None:
        abort(403)
    if allowed == PUBLIC:
        return refuse_unstorable_text()
    principal = _authenticate()
    if principal is None:
        abort(401, message="Send a valid API key (X-API-Key) or access token (Authorization: Bearer).")
    user = principal.user
    login_manager._update_request_context_with_user(user)
    g.api_principal = principal
    if user.status != "active" or not user.is_active or user.must_change_password:
        abort(403, message="This account is not active.")
    if user.role not in allowed or (user.is_cp and user.member_role not in member_roles_for(endpoint)):
        abort(403, message="Your role may not do this.")
    needed = getattr(current_app.view_functions[endpoint], "api_scope", None)
    if principal.key is not None:
        if needed is None or (needed != ANY_SCOPE and needed not in principal.scopes):
            abort(403, message=f"This API key lacks the scope {needed or 'for this operation'}.")
        if principal.key.partner_id is not None and (
            user.partner is None or user.partner.id != principal.key.partner_id
        ):
            abort(403, message="This API key's user no longer works for its partner.")
        api_keys.touch(principal.key)
    return refuse_unstorable_text()


def refuse_unstorable_text() -> None:
    """Once for every operation, after the credentials checks: text the database cannot store (a NUL character,
    which PostgreSQL's text refuses, or a lone UTF-16 surrogate, which is not Unicode) anywhere in the query, a
    form or the JSON body is refused with 422 naming the field, before any schema or operation sees it."""
    places: list[str] = []
    _walk(request.args.to_dict(flat=False), "", places)
    _walk(request.form.to_dict(flat=False), "", places)
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # json gives up on a body nested a thousand deep: nothing we take is like that
            abort(422, message="The JSON body is nested too deeply.", errors={"body": ["Nested too deeply."]})
        _walk(body, "", places)
    if places:
        message = "Text may not contain NUL characters or unpaired surrogates."
        abort(422, message=message, errors={place: [message] for place in dict.fromkeys(places[:20])})


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _walk(value, place: str, places: list) -> None:
    """Collect where unstorable text is, named as the 422s of the schemas name fields ("custom_fields.colour").
    A loop, not recursion: a body nested hundreds deep is walked without running out of stack."""
    pending = [(value, place)]
    while pending:
        value, place = pending.pop()
        if isinstance(value, str):
            if _unstorable(value):
                places.append(place or "body")
        elif isinstance(value, dict):
            for key, inner in value.items():
                if _unstorable(key):
                    places.append(place or "body")  # the name itself: the place is where it was sent
                else:
                    pending.append((inner, f"{place}.{key}" if place else key))
        elif isinstance(value, list):
            pending.extend((inner, place) for inner in value)


def rate_limit_key() -> str:
    principal = g.get("api_principal")
    return principal.bucket if principal is not None else f"api-address:{request.remote_addr}"


def acting_user() -> User:
    return current_user._get_current_object()


def current_principal() -> Principal:
    return g.api_principal
