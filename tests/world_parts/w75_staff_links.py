"""Staff and emailed-link records for the route walk: the admin as a staff member to act on, and live reset,
set-password and confirmation tokens of a person of their own (so a walk that submits the forms touches no role)."""

from app.accounts import tokens
from tests import factories


def add(world):
    holder = factories.make_user("channel_partner", status="pending", email_confirmed_at=None)
    invited = factories.make_user("channel_partner", status="pending", must_change_password=True)
    world["ids"].update(
        {
            "staff_admin": world["users"]["admin"].id,
            "reset_token": tokens.issue(holder, "reset_password"),
            "confirm_token": tokens.issue(holder, "confirm_email"),
            # A pending person may not set a password through such a link: the page says so (410), for everyone.
            "set_password_token": tokens.issue(invited, "set_password"),
        }
    )
