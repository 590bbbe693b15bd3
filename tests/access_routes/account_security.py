"""Permission rows of /account/security (MFA and sessions) and the second login step /auth/mfa (issue 17 item 7)."""

from tests.access_table import everyone, expect, logged_in

ROUTES = {
    "GET account.security": ("/account/security", logged_in(200)),
    "POST account.security_mfa_start": ("/account/security/mfa/start", logged_in(303)),
    "POST account.security_mfa_cancel": ("/account/security/mfa/cancel", logged_in(303)),
    "POST account.security_mfa_confirm": ("/account/security/mfa/confirm", logged_in(422)),
    "POST account.security_recovery_codes": ("/account/security/recovery-codes", logged_in(422)),
    "POST account.security_mfa_disable": ("/account/security/mfa/disable", logged_in(422)),
    # Only the owner of a session may end it: for everyone else (colleagues too) its id does not exist.
    "POST account.security_session_end": (
        "/account/security/sessions/{cp_session}/end",
        expect(cp=303, other=404, admin=404, super=404, manager=404, viewer=404),
    ),
    "POST account.security_sessions_end_others": ("/account/security/sessions/end-others", logged_in(303)),
    # Without a pending login (a correct password first) the second step sends everyone back: to the login page,
    # or home when logged in already.
    "GET auth.mfa": ("/auth/mfa", everyone(302)),
    "POST auth.mfa": ("/auth/mfa", everyone(302)),
}
