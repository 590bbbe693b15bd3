"""Permission rows of the theme switch (/account/appearance) and of installing the app (manifest, service worker,
offline page), issue 20 item 3."""

from tests.access_table import everyone, logged_in

ROUTES = {
    "GET account.appearance": ("/account/appearance", logged_in(200)),
    # An empty form chooses nothing: the page again with the error beside the choice.
    "POST account.appearance": ("/account/appearance", logged_in(422)),
    # What a browser fetches to install the app: the same for everyone, nothing of an account in it.
    "GET public.web_manifest": ("/manifest.webmanifest", everyone(200)),
    "GET public.service_worker": ("/sw.js", everyone(200)),
    "GET public.offline": ("/offline", everyone(200)),
}
