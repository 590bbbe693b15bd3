"""Partners and their teams. Staff list and read partners, admins decide on them ("pending_partner" is approved
or rejected: 200; "other_partner" is suspended: 200; cp's partner is not suspended, so reactivating it: 409).
A partner's members read their own partner (the other partner: 404). The team is the owner's (managers and
viewers: 403; staff read it): an empty body is 422; deactivating yourself ("owner_member"), reactivating an
active member ("member") and withdrawing a closed invitation ("closed_invite") are refused alike each time (409)."""

from tests.api_access_table import admin_op, any_user, api, staff_op

_TEAM_READ = api("partners:read", cp=200, other=404, manager=403, viewer=403, admin=200, super=200)
_TEAM_WRITE_BODY = api("partners:write", cp=422, manager=403, viewer=403)
_TEAM_WRITE = api("partners:write", cp=409, other=404, manager=403, viewer=403)

API_ROUTES = {
    "GET api_partners.list_partners": ("/api/v1/partners", staff_op("partners:read")),
    "GET api_partners.get_partner": ("/api/v1/partners/{partner}", any_user("partners:read", other=404)),
    "POST api_partners.approve_partner": (
        "/api/v1/partners/{pending_partner}/approve",
        admin_op("partners:write", 200),
    ),
    "POST api_partners.reject_partner": ("/api/v1/partners/{pending_partner}/reject", admin_op("partners:write", 200)),
    "POST api_partners.suspend_partner": ("/api/v1/partners/{other_partner}/suspend", admin_op("partners:write", 200)),
    "POST api_partners.reactivate_partner": (
        "/api/v1/partners/{partner}/reactivate",
        admin_op("partners:write", 409),
    ),
    "GET api_partners.list_members": ("/api/v1/partners/{partner}/members", _TEAM_READ),
    "POST api_partners.change_member_role": ("/api/v1/partners/{partner}/members/{member}/role", _TEAM_WRITE_BODY),
    "POST api_partners.deactivate_member": (
        "/api/v1/partners/{partner}/members/{owner_member}/deactivate",
        _TEAM_WRITE,
    ),
    "POST api_partners.reactivate_member": ("/api/v1/partners/{partner}/members/{member}/reactivate", _TEAM_WRITE),
    "GET api_partners.list_invites": ("/api/v1/partners/{partner}/invites", _TEAM_READ),
    "POST api_partners.invite_member": ("/api/v1/partners/{partner}/invites", _TEAM_WRITE_BODY),
    "POST api_partners.revoke_invite": ("/api/v1/partners/{partner}/invites/{closed_invite}/revoke", _TEAM_WRITE),
}
