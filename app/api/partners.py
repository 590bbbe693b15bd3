"""/api/v1/partners: partner organisations (SPEC 9.1) and their members, under the pages' rules.

Staff read every partner and admins approve, reject, suspend and reactivate them, as on /admin/partners (with the
same operations: app/accounts/operations.py). A partner's members read their own partner. The team is the
owner's, as on /cp/team: members and their roles, deactivation, invitations (app/partners/members.py).
"""

import marshmallow as ma
from flask_smorest import Blueprint, abort

from app.access import ADMIN, ANY_USER, CP, OWNER, STAFF, members, roles
from app.accounts import limits
from app.accounts import operations as accounts
from app.api.fields import Timestamp
from app.api.pagination import PageArgs, keyset_page, page_schema
from app.api.principal import acting_user, scope
from app.extensions import db
from app.loaders import load_invite, load_member, load_partner
from app.models import ChannelPartner, PartnerInvite, PartnerMember
from app.models.members import MEMBER_ROLES, MEMBER_STATUSES
from app.models.partners import CP_STATUSES, KYC_STATUSES, TIERS
from app.partners import members as team
from app.partners import profiles

blp = Blueprint("api_partners", __name__, url_prefix="/partners", description="Partners and their members")

MAX_NOTE = 2000
INVITE_STATES = ("open", "accepted", "revoked", "expired")


class CapabilitiesOut(ma.Schema):
    originates = ma.fields.Boolean(attribute="cap_originates", required=True)
    works = ma.fields.Boolean(attribute="cap_works", required=True)
    buys = ma.fields.Boolean(attribute="cap_buys", required=True)
    supplies = ma.fields.Boolean(attribute="cap_supplies", required=True)


class _Itself(ma.fields.Nested):
    """A nested object made of the parent's own attributes (a partner's capability flags)."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return obj


class PartnerOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    code = ma.fields.String(required=True, metadata={"description": "Its referral code (/r/<code>)"})
    company_name = ma.fields.String(required=True)
    owner_email = ma.fields.String(attribute="user.email", required=True, metadata={"description": "Who signed up"})
    contact_phone = ma.fields.String(allow_none=True)
    website = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    status = ma.fields.String(required=True, metadata={"enum": list(CP_STATUSES)})
    review_note = ma.fields.String(allow_none=True, metadata={"description": "Why it was rejected"})
    tier = ma.fields.String(required=True, metadata={"enum": list(TIERS)})
    monthly_lead_quota = ma.fields.Integer(allow_none=True)
    capabilities = _Itself(CapabilitiesOut, required=True)
    kyc_status = ma.fields.String(required=True, metadata={"enum": list(KYC_STATUSES)})
    approved_at = Timestamp(allow_none=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


class PartnerListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(CP_STATUSES))
    q = ma.fields.String(
        validate=ma.validate.Length(max=100), metadata={"description": "In the company name or the owner's email"}
    )


class RejectIn(ma.Schema):
    note = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=MAX_NOTE),
        metadata={"description": "Why (the partner is told by email)"},
    )


class MemberOut(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "The membership"})
    user_id = ma.fields.UUID(required=True)
    email = ma.fields.String(attribute="user.email", required=True)
    name = ma.fields.String(attribute="user.display_name", required=True)
    role = ma.fields.String(required=True, metadata={"enum": list(MEMBER_ROLES)})
    status = ma.fields.String(required=True, metadata={"enum": list(MEMBER_STATUSES)})
    created_at = Timestamp(required=True)
    deactivated_at = Timestamp(allow_none=True)


class RoleIn(ma.Schema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(MEMBER_ROLES))


class InviteIn(ma.Schema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    role = ma.fields.String(load_default="manager", validate=ma.validate.OneOf(MEMBER_ROLES))


class InviteOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    email = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={"enum": list(MEMBER_ROLES)})
    state = ma.fields.String(required=True, metadata={"enum": list(INVITE_STATES)})
    created_at = Timestamp(required=True)
    expires_at = Timestamp(required=True)


# --- partners --------------------------------------------------------------------------------------


@blp.route("", methods=["GET"])
@roles(*STAFF)
@scope("partners:read")
@blp.arguments(PartnerListArgs, location="query")
@blp.response(200, page_schema(PartnerOut, "PartnerPage"))
def list_partners(args):
    """Partners, newest first (staff)"""
    status = args.get("status")
    stmt = profiles.partners_statement((status,) if status else None, args.get("q", ""))
    return keyset_page(stmt, ChannelPartner, args)


@blp.route("/<uuid:partner_id>", methods=["GET"])
@roles(*ANY_USER)
@scope("partners:read")
@blp.response(200, PartnerOut)
def get_partner(partner_id):
    """One partner (a partner's members: their own)"""
    return load_partner(partner_id)


def _decide(partner_id, action):
    """An admin's decision on a partner, as on /admin/partners: refusals (AccountError) are 409 problems."""
    partner = load_partner(partner_id)
    action(partner)
    db.session.commit()
    return partner


@blp.route("/<uuid:partner_id>/approve", methods=["POST"])
@roles(ADMIN)
@scope("partners:write")
@blp.response(200, PartnerOut)
@blp.alt_response(409, description="Not pending or rejected, or its email is not confirmed yet")
def approve_partner(partner_id):
    """Approve a partner: its people may log in, and it gets the welcome email (admins)"""
    return _decide(partner_id, lambda p: accounts.approve_cp(p, acting_user()))


@blp.route("/<uuid:partner_id>/reject", methods=["POST"])
@roles(ADMIN)
@scope("partners:write")
@blp.arguments(RejectIn)
@blp.response(200, PartnerOut)
@blp.alt_response(409, description="Not pending")
def reject_partner(body, partner_id):
    """Reject a pending partner, with a note it is emailed (admins)"""
    return _decide(partner_id, lambda p: accounts.reject_cp(p, acting_user(), body["note"]))


@blp.route("/<uuid:partner_id>/suspend", methods=["POST"])
@roles(ADMIN)
@scope("partners:write")
@blp.response(200, PartnerOut)
@blp.alt_response(409, description="Not approved")
def suspend_partner(partner_id):
    """Suspend an approved partner: its people's sessions and tokens end at once (admins)"""
    return _decide(partner_id, lambda p: accounts.set_suspended(p, acting_user(), True))


@blp.route("/<uuid:partner_id>/reactivate", methods=["POST"])
@roles(ADMIN)
@scope("partners:write")
@blp.response(200, PartnerOut)
@blp.alt_response(409, description="Not suspended")
def reactivate_partner(partner_id):
    """Reactivate a suspended partner (admins)"""
    return _decide(partner_id, lambda p: accounts.set_suspended(p, acting_user(), False))


# --- the team: the owner's --------------------------------------------------------------------------


@blp.route("/<uuid:partner_id>/members", methods=["GET"])
@roles(*ANY_USER)
@members(OWNER)
@scope("partners:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(MemberOut, "MemberPage"))
def list_members(args, partner_id):
    """The partner's members, newest first (its owners; staff)"""
    return keyset_page(team.members_statement(load_partner(partner_id)), PartnerMember, args)


def _member_action(partner_id, member_id, action):
    member = load_member(load_partner(partner_id), member_id)
    action(member)
    db.session.commit()
    return member


@blp.route("/<uuid:partner_id>/members/<uuid:member_id>/role", methods=["POST"])
@roles(CP)
@members(OWNER)
@scope("partners:write")
@blp.arguments(RoleIn)
@blp.response(200, MemberOut)
@blp.alt_response(409, description="The partner would be left without an owner")
def change_member_role(body, partner_id, member_id):
    """Give a member another role: owner, manager or viewer (owners)"""
    return _member_action(partner_id, member_id, lambda m: team.change_role(m, body["role"], acting_user()))


@blp.route("/<uuid:partner_id>/members/<uuid:member_id>/deactivate", methods=["POST"])
@roles(CP)
@members(OWNER)
@scope("partners:write")
@blp.response(200, MemberOut)
@blp.alt_response(409, description="Already deactivated, yourself, or the last owner")
def deactivate_member(partner_id, member_id):
    """Deactivate a member: their sessions, tokens and keys stop working at once (owners)"""
    return _member_action(partner_id, member_id, lambda m: team.set_active(m, acting_user(), False))


@blp.route("/<uuid:partner_id>/members/<uuid:member_id>/reactivate", methods=["POST"])
@roles(CP)
@members(OWNER)
@scope("partners:write")
@blp.response(200, MemberOut)
@blp.alt_response(409, description="Already active")
def reactivate_member(partner_id, member_id):
    """Let a deactivated member log in again (owners)"""
    return _member_action(partner_id, member_id, lambda m: team.set_active(m, acting_user(), True))


@blp.route("/<uuid:partner_id>/invites", methods=["GET"])
@roles(*ANY_USER)
@members(OWNER)
@scope("partners:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(InviteOut, "InvitePage"))
def list_invites(args, partner_id):
    """The partner's open invitations, newest first (its owners; staff)"""
    return keyset_page(team.open_invites_statement(load_partner(partner_id)), PartnerInvite, args)


@blp.route("/<uuid:partner_id>/invites", methods=["POST"])
@roles(CP)
@members(OWNER)
@scope("partners:write")
@blp.arguments(InviteIn)
@blp.response(201, InviteOut)
@blp.alt_response(409, description="The address already has an account")
@blp.alt_response(429, description="Too many invitations (see Retry-After)")
def invite_member(body, partner_id):
    """Invite someone by email to join as owner, manager or viewer (owners); the link is emailed"""
    partner = load_partner(partner_id)
    verdict = limits.member_invite(acting_user())
    if not verdict.allowed:
        abort(
            429, message="Too many invitations. Wait and try again.", headers={"Retry-After": str(verdict.retry_after)}
        )
    invite = team.invite(partner, body["email"], body["role"], acting_user())
    db.session.commit()
    return invite


@blp.route("/<uuid:partner_id>/invites/<uuid:invite_id>/revoke", methods=["POST"])
@roles(CP)
@members(OWNER)
@scope("partners:write")
@blp.response(200, InviteOut)
@blp.alt_response(409, description="No longer open")
def revoke_invite(partner_id, invite_id):
    """Withdraw an invitation: its link stops working (owners)"""
    invite = load_invite(load_partner(partner_id), invite_id)
    team.revoke(invite, acting_user())
    db.session.commit()
    return invite
