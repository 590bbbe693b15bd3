"""Permission rows of password reset, emailed links, email confirmation and staff management (issue 17, items 5-6)."""

from tests.access_table import everyone, super_only

ROUTES = {
    "GET auth.reset_request": ("/auth/reset", everyone(200)),
    "POST auth.reset_request": ("/auth/reset", everyone(422)),
    "GET auth.reset_password": ("/auth/reset/{reset_token}", everyone(200)),
    "POST auth.reset_password": ("/auth/reset/{reset_token}", everyone(422)),
    "GET auth.set_password": ("/auth/set-password/{set_password_token}", everyone(410)),
    "POST auth.set_password": ("/auth/set-password/{set_password_token}", everyone(410)),
    "GET auth.confirm_email": ("/auth/confirm/{confirm_token}", everyone(200)),
    "POST auth.confirm_email": ("/auth/confirm/{confirm_token}", everyone(200)),  # confirmed, then "already"
    # Anyone logged in (a pending partner too) may ask again; the world's users are confirmed: a message, home.
    "POST auth.confirm_resend": ("/auth/confirm/resend", everyone(302)),
    "GET superadmin.staff_list": ("/super/staff", super_only()),
    "POST superadmin.staff_invite": ("/super/staff/invite", super_only(422)),
    "POST superadmin.staff_suspend": ("/super/staff/{staff_admin}/suspend", super_only(302)),
    "POST superadmin.staff_reactivate": ("/super/staff/{staff_admin}/reactivate", super_only(409)),
    "POST superadmin.staff_resend_invite": ("/super/staff/{staff_admin}/invite-again", super_only(409)),
}
