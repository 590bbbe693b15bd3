"""Permission rows for the super admin's dev mailbox: not found without a DEV_MAILBOX (as in tests and production)."""

from tests.access_table import super_only

ROUTES = {
    "GET superadmin.mailbox": ("/super/mailbox", super_only(404)),
}
