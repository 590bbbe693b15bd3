"""Helpers of the hardening suites (issue 8): who is admitted to a route, the state of every table,
and the forms a page renders. They work from the permission table and the url_map, so routes added
later are covered without editing the suites."""

import hashlib
import re
from html.parser import HTMLParser

import sqlalchemy as sa

from app.access import PUBLIC, allowed_roles_for
from app.extensions import db
from tests.access_table import ROUTES
from tests.conftest import login

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
PORTAL_ROLES = ("cp", "admin", "super")
ROLE_NAMES = {"channel_partner": "cp", "admin": "admin", "super_admin": "super"}


def routes(methods=None):
    """(method, endpoint, path template, expected codes) of the permission table, sorted."""
    for key in sorted(ROUTES):
        method, endpoint = key.split(" ", 1)
        if methods is None or method in methods:
            path, expected = ROUTES[key]
            yield method, endpoint, path, expected


def admitted_roles(app, endpoint: str, expected: dict | None = None) -> list[str]:
    """World roles the route declares it admits (app.access), as "cp", "admin", "super"; "anon" for public routes.

    `expected` (the table's codes) is only a cross-check: a declared role the table refuses outright
    (403) is left out, as the route narrows itself further than its declaration.
    """
    with app.test_request_context():
        declared = allowed_roles_for(endpoint)
    if declared == PUBLIC:
        return ["anon"]
    roles = [ROLE_NAMES[r] for r in declared or () if r in ROLE_NAMES]
    return [r for r in roles if expected is None or expected[r] != 403]


def client_for(app, world, role: str):
    client = app.test_client()
    if role != "anon":
        login(client, world["users"][role])
    return client


def fill(path: str, world) -> str:
    return path.format(**world["ids"])


def fresh_world(app) -> dict:
    """Empty every table and build the world again (inside a test)."""
    from tests.conftest import wipe
    from tests.world import build_world

    db.session.remove()  # this test's own session lets go of its rows first, or TRUNCATE waits for it forever
    wipe(app)
    return build_world()


def fingerprint() -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its content: any insert, update or delete shows."""
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(sa.select(table)).all()
        digest = hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()
        state[table.name] = (len(rows), digest[:16])
    db.session.rollback()
    return state


def row_counts() -> dict[str, int]:
    return {name: count for name, (count, _) in fingerprint().items()}


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def csrf_token_of(client, path: str = "/auth/change-password") -> str:
    """The CSRF token of the client's session, as a page renders it."""
    body = client.get(path).get_data(as_text=True)
    found = re.search(r'"X-CSRFToken": "([^"]+)"', body) or re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


class FormFields(HTMLParser):
    """The forms of a page: action, method and the names of their inputs, selects and textareas."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._current: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or a.get("hx-post") or a.get("hx-put") or a.get("hx-patch") or a.get("hx-delete")
            method = "post" if "hx-post" in a else (a.get("method") or "get")
            self._current = {"action": action, "method": method.lower(), "fields": {}, "options": {}}
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "select", "textarea") and a.get("name"):
            kind = a.get("type", tag).lower()
            self._current["fields"][a["name"]] = kind
            if tag == "select":
                self._select = a["name"]
                self._current["options"][a["name"]] = []
            elif kind in ("radio",) and a.get("value") is not None:
                self._current["options"].setdefault(a["name"], []).append(a["value"])
            elif kind == "hidden" and a.get("value") is not None:
                self._current["options"][a["name"]] = [a["value"]]
        elif tag == "option" and self._current is not None and self._select and a.get("value") is not None:
            self._current["options"][self._select].append(a["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._current = None


def forms_on(html: str) -> list[dict]:
    parser = FormFields()
    parser.feed(html)
    return parser.forms


def discover_forms(app, world, role: str) -> dict[str, dict]:
    """Every form the role's GET pages render, keyed by the path it posts to (first page that shows it wins).

    The pages are the permission table's GET routes the role is admitted to, each as a full page.
    """
    client = client_for(app, world, role)
    found: dict[str, dict] = {}
    for _method, endpoint, path, expected in routes({"GET"}):
        if role not in admitted_roles(app, endpoint, expected):
            continue
        page = fill(path, world)
        response = client.get(page)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in forms_on(response.get_data(as_text=True)):
            action = (form["action"] or page).split("?", 1)[0]
            if form["method"] != "get" and action not in found:
                found[action] = {**form, "page": page}
    return found


def plausible_value(name: str, kind: str, options: list[str] | None):
    """A value a person might type into this field: the point is to get past validation."""
    lowered = name.lower()
    if options:
        usable = [o for o in options if o != ""]
        return usable[0] if usable else options[0]
    if kind == "checkbox":
        return "y"
    if kind == "date":
        from datetime import date

        return date.today().isoformat()
    if kind == "email" or "email" in lowered:
        return "someone@example.com"
    if "swift" in lowered or "bic" in lowered:
        return "DEUTDEFF"
    if "website" in lowered:
        return "https://example.com"
    if kind == "number" or any(w in lowered for w in ("amount", "value", "commission", "net", "fee", "price")):
        return "1000.00"
    if "phone" in lowered:
        return "+1 555 0100"
    if "url" in lowered or "link" in lowered:
        return "https://example.test/page"
    return "A reasonable answer"


def png_upload():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 120, 200)).save(buffer, "PNG")
    return (io.BytesIO(buffer.getvalue()), "picture.png", "image/png")


def refreshed(client, form: dict | None, action: str) -> dict | None:
    """The same form as its page renders it now (hidden values such as a record's version move on)."""
    if not form or not form.get("page"):
        return form
    response = client.get(form["page"])
    for candidate in forms_on(response.get_data(as_text=True)) if response.status_code == 200 else []:
        if (candidate["action"] or form["page"]).split("?", 1)[0] == action:
            return {**candidate, "page": form["page"]}
    return form


def plausible_post(form: dict | None) -> dict:
    """A filled-in version of a discovered form (files get a small PNG)."""
    data = {}
    for name, kind in (form or {"fields": {}})["fields"].items():
        if name == "csrf_token" or kind in ("submit", "button", "reset", "password"):
            continue
        data[name] = png_upload() if kind == "file" else plausible_value(name, kind, form["options"].get(name))
    return data


def went_through(response) -> bool:
    """The request got past the gate and was not refused: a 2xx, or a redirect that is not to the login page."""
    if response.status_code >= 400:
        return False
    return "/auth/login" not in response.headers.get("Location", "") and "HX-Redirect" not in response.headers
