"""The team pages (owner only), the activity feed, and joining a team (public)."""

from tests.access_table import everyone, expect, owner_only

ROUTES = {
    "GET cp.team_page": ("/cp/team", owner_only()),
    "POST cp.team_invite": ("/cp/team/invite", owner_only(422)),
    "POST cp.team_invite_revoke": ("/cp/team/invites/{invite}/revoke", owner_only(302, other=404)),
    "POST cp.team_member_role": ("/cp/team/members/{member}/role", owner_only(422, other=404)),
    "POST cp.team_member_deactivate": ("/cp/team/members/{member}/deactivate", owner_only(302, other=404)),
    "POST cp.team_member_reactivate": ("/cp/team/members/{member}/reactivate", owner_only(409, other=404)),
    "POST cp.team_code": ("/cp/team/code", owner_only(302)),
    "GET cp.activity_page": ("/cp/activity", expect(cp=200)),
    # someone logged in is told to log out first (403); the token of the world's invitation is not a real one
    "GET join.accept": ("/join/not-a-token", everyone(403, anon=410, pending=403)),
    "POST join.accept": ("/join/not-a-token", everyone(403, anon=410, pending=403)),
    "GET join.with_code": ("/join", everyone(403, anon=200, pending=403)),
    "POST join.with_code": ("/join", everyone(403, anon=422, pending=403)),
}
