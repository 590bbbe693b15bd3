"""/api/v1/auth: user tokens. Email and password (and the MFA code when the user has MFA on) give a short-lived
access token and a refresh token; a refresh token is spent by use, and using one twice revokes its sign-in."""

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint, abort

from app.access import ANY_USER, public, roles
from app.accounts import api_tokens, mfa, throttle
from app.accounts import operations as accounts
from app.api.principal import ANY_SCOPE, scope
from app.extensions import db

blp = Blueprint("api_auth", __name__, url_prefix="/auth", description="User tokens")


class TokenRequest(ma.Schema):
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, validate=ma.validate.Length(1, 256))
    mfa_code = ma.fields.String(
        load_default=None, validate=ma.validate.Length(max=40), metadata={"description": "TOTP or recovery code"}
    )


class RefreshRequest(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))


class TokenPair(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds the access token lives"})


class Me(ma.Schema):
    id = ma.fields.UUID(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    member_role = ma.fields.String(allow_none=True)
    partner_id = ma.fields.UUID(allow_none=True)
    scopes = ma.fields.List(ma.fields.String(), required=True)
    api_key = ma.fields.String(allow_none=True, metadata={"description": "The key's name, when called with a key"})


def _throttled(buckets):
    verdict = throttle.login_throttle().attempt(buckets)
    if not verdict.allowed:
        abort(429, message="Too many attempts. Wait and try again.", headers={"Retry-After": str(verdict.retry_after)})


@blp.route("/token", methods=["POST"])
@public
@blp.doc(security=[])  # no credentials: the document must not ask for any
@blp.arguments(TokenRequest)
@blp.response(200, TokenPair)
@blp.alt_response(401, description="Wrong email or password, or the MFA code is missing or wrong")
@blp.alt_response(429, description="Too many attempts (see Retry-After)")
def token(body):
    """Sign in: an access token and a refresh token"""
    _throttled(throttle.buckets_for(body["email"]))
    user = accounts.authenticate(body["email"], body["password"])
    if user is None or not user.is_active or user.status != "active" or user.must_change_password:
        abort(401, message="Wrong email or password, or the account is not active.")
    throttle.login_throttle().forgive(throttle.account_buckets(body["email"]))
    if mfa.is_enabled(user):
        if not body["mfa_code"]:
            abort(
                401,
                message="This account uses two-factor authentication: send mfa_code.",
                errors={"mfa_code": ["Required."]},
            )
        _throttled(mfa.throttle_buckets(user.id, request.remote_addr))
        if mfa.verify_login(user, body["mfa_code"]) is None:
            db.session.commit()  # a spent TOTP step or recovery code stays spent
            abort(401, message="The MFA code is wrong.", errors={"mfa_code": ["Wrong code."]})
    pair = api_tokens.issue(user)
    db.session.commit()
    return pair


@blp.route("/refresh", methods=["POST"])
@public
@blp.doc(security=[])  # no credentials: the document must not ask for any
@blp.arguments(RefreshRequest)
@blp.response(200, TokenPair)
@blp.alt_response(401, description="The refresh token is unknown, expired, revoked or was already used")
def refresh(body):
    """Exchange a refresh token for a new pair (the old one is spent)"""
    try:
        pair = api_tokens.refresh(body["refresh_token"])
    except api_tokens.TokenRefused as exc:
        db.session.commit()  # a reused token's family stays revoked
        abort(401, message=str(exc))
    db.session.commit()
    return pair


@blp.route("/revoke", methods=["POST"])
@public
@blp.doc(security=[])  # no credentials: the document must not ask for any
@blp.arguments(RefreshRequest)
@blp.response(204)
def revoke(body):
    """Sign out: revoke the sign-in this refresh token belongs to (unknown tokens are ignored)"""
    api_tokens.revoke(body["refresh_token"])
    db.session.commit()


@blp.route("/me", methods=["GET"])
@roles(*ANY_USER)
@scope(ANY_SCOPE)
@blp.response(200, Me)
def me():
    """Who the credentials stand for, and what they may do"""
    from app.api.principal import current_principal

    principal = current_principal()
    user = principal.user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.display_name,
        "role": user.role,
        "member_role": user.member_role,
        "partner_id": user.partner.id if user.partner else None,
        "scopes": sorted(principal.scopes),
        "api_key": principal.key.name if principal.key else None,
    }
