"""Permission rows for /account/timezone: every logged-in person chooses their own zone."""

from tests.access_table import logged_in

ROUTES = {
    "GET account.timezone": ("/account/timezone", logged_in(200)),
    "POST account.timezone": ("/account/timezone", logged_in(422)),
}
