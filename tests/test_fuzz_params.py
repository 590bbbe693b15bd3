"""Extreme values in every query parameter and every form field of every route, as each role that may open it:
huge and negative integers, NaN and infinities, far dates, whitespace, control characters, 100 KB strings,
unicode, repeated keys, a file part where text is expected, text where a file is expected, empty filenames.
Never a 5xx and never a traceback in the answer.

The parameters a page reads are found three ways: the page's own links and filter forms and the names the view's
source reads from request.args (each sent alone), and every name any parser in app/ reads (all sent at once, for
the views that hand request.args to a parser). The form fields are those the role's pages render (tests/security_support.discover_forms).
"""

import inspect
import io
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.files.fields import CLAIM_SUFFIX
from tests.report_summary import record
from tests.security_support import (
    STATE_CHANGING,
    admitted_roles,
    client_for,
    discover_forms,
    fill,
    forms_on,
    fresh_world,
    plausible_post,
    routes,
)

APP_DIR = Path(__file__).resolve().parent.parent / "app"
READS_ARG = re.compile(r"""\bargs\.get\(\s*["']([\w-]+)["']|\bargs\[\s*["']([\w-]+)["']\s*\]""")
LINK = re.compile(r"""(?:href|hx-get)="([^"]*\?[^"]*)\"""")

TEXT_VALUES = [
    str(10**30), "-" + str(10**30), "-1", "0", str(2**63), str(2**63 - 1), str(2**31), "-" + str(2**63),
    "1e309", "-1e309", "NaN", "-NaN", "Infinity", "-Infinity", "0.0000001", "99999999999999999.99",
    "0001-01-01", "9999-12-31", "99999-01-01", "0000-00-00", "1900-02-29",
    " ", "\t\n ", "\x01\x02\x1b[31m\x7f", "\u200b\u202e\ufeff", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ٣ ½ 😀",
    "x" * 100_000, "00000000-0000-0000-0000-000000000000", "../../etc/passwd", "'; --", "%00",
]  # fmt: skip
# In a query string a NUL is dropped (app.web); in a form it is a clean 400: both are worth sending.
QUERY_VALUES = [*TEXT_VALUES, "\x00", "a\x00b"]
# Each parameter alone gets one value of each class (the full list goes to all parameters at once).
ONE_OF_EACH = [
    str(10**30), "-1", str(2**63), "NaN", "-Infinity", "0001-01-01", "9999-12-31", "99999-01-01", "\t\n ",
    "\x01\x1b[31m", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀", "x" * 100_000, "a\x00b",
]  # fmt: skip
REPEATED = ["1", str(2**63)]  # the same key twice: a list where one value is expected


def text_as_file():
    return (io.BytesIO(b"not a file field, but a file"), "surprise.txt", "text/plain")


def empty_filename():
    return (io.BytesIO(b""), "", "application/octet-stream")


def nameless_bytes():
    return (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), "", "image/png")


def odd_filename():
    return (io.BytesIO(b"%PDF-1.4 not really"), "\u202egpj.exe" + "x" * 300 + ".pdf", "application/pdf")


# -- which query parameters a route reads ---------------------------------------------------------------------


def names_read_by(source: str) -> set[str]:
    return {a or b for a, b in READS_ARG.findall(source)}


def every_name_read_in_app() -> set[str]:
    names = set()
    for path in APP_DIR.rglob("*.py"):
        names |= names_read_by(path.read_text())
    return names


def view_source(app, endpoint: str) -> str:
    try:
        return inspect.getsource(inspect.unwrap(app.view_functions[endpoint]))
    except (OSError, TypeError):
        return ""


def params_on_page(html: str, page: str) -> set[str]:
    """Names in the page's links back to itself and in its GET (filter) forms."""
    here = urlsplit(page).path
    names = set()
    for link in LINK.findall(html):
        url = urlsplit(link.replace("&amp;", "&"))
        if url.path in ("", here):
            names |= {k for k, _ in parse_qsl(url.query, keep_blank_values=True)}
    for form in forms_on(html):
        if form["method"] == "get":
            names |= {n for n, kind in form["fields"].items() if kind not in ("submit", "button")}
    return names


def _send(client, method, url, counts, failures, where, **kwargs):
    """One request; a 5xx, a raised exception or a traceback in the body is a failure, keyed by its class."""
    counts["requests"] += 1
    try:
        response = client.open(url, method=method, **kwargs)
    except Exception as exc:  # the test app propagates a view's exception: in production, a 500
        failures.setdefault(f"{where[0]}: {type(exc).__name__}: {str(exc)[:160]}", where[1])
        return None
    body = response.get_data(as_text=True) if response.mimetype.startswith("text") else ""
    if response.status_code >= 500 or "Traceback (most recent call last)" in body:
        failures.setdefault(f"{where[0]}: answered {response.status_code}", where[1])
    return response


def _report(failures: dict) -> str:
    return f"{len(failures)} classes of failure:\n" + "\n".join(f"{k}\n    e.g. {v}" for k, v in failures.items())


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "…"


# -- GET: every query parameter -------------------------------------------------------------------------------


def test_extreme_query_parameters_never_break_a_page(app):
    world = fresh_world(app)
    everywhere = every_name_read_in_app()
    counts = {"requests": 0, "routes": 0}
    failures: dict[str, str] = {}
    for _method, endpoint, path, expected in routes({"GET"}):
        roles = admitted_roles(app, endpoint, expected)
        if not roles:
            continue
        counts["routes"] += 1
        page, _, fixed = fill(path, world).partition("?")  # a table path may carry its own query
        base_query = dict(parse_qsl(fixed, keep_blank_values=True))
        source = view_source(app, endpoint)
        for number, role in enumerate(roles):
            client = client_for(app, world, role)
            first = _send(client, "GET", page, counts, failures, (endpoint, role), query_string=base_query)
            html = first.get_data(as_text=True) if first is not None and first.mimetype == "text/html" else ""
            own = params_on_page(html, page) | names_read_by(source) | set(base_query)
            # Each parameter the route reads alone (as its first role: the others go through the same parsing) ...
            for name in sorted(own) if number == 0 else ():
                for value in [*ONE_OF_EACH, REPEATED]:
                    where = (endpoint, f"GET {page}?{name}={_short(value)} as {role}")
                    _send(client, "GET", page, counts, failures, where, query_string={**base_query, name: value})
            # ... and every parameter at once: every value as the first role, full page and HTMX fragment;
            # one value of each class as the other admitted roles (their pages may show other filters).
            for value in QUERY_VALUES if number == 0 else ONE_OF_EACH:
                query = {**base_query, **dict.fromkeys(sorted(own | everywhere), value[:1000])}  # not a 3 MB URL
                for headers in ({}, {"HX-Request": "true"}) if number == 0 else ({},):
                    where = (endpoint, f"GET {page} all={_short(value)} as {role} {headers}")
                    _send(client, "GET", page, counts, failures, where, query_string=query, headers=headers)
    record("fuzz_params", requests=counts["requests"], server_errors=len(failures), routes=counts["routes"])
    print(f"query fuzz: {counts['requests']} requests to {counts['routes']} GET routes, {len(failures)} failures")
    assert counts["routes"] > 0
    assert not failures, _report(failures)


# -- POST: every form field, multipart included -----------------------------------------------------------------


def field_values(kind: str):
    """What to put in a field of this kind: every extreme text, or for a file input the wrong shapes of file."""
    if kind == "file":
        return ["a plain text value", "", empty_filename, nameless_bytes, odd_filename, "\x00"]
    return [*TEXT_VALUES, REPEATED, text_as_file, empty_filename]


def _materialise(value):
    return value() if callable(value) else value


def _template_of(action: str, world) -> str:
    for name, value in world["ids"].items():
        action = action.replace(str(value), "{" + name + "}")
    return action


@pytest.mark.parametrize("role", ["anon", "cp", "admin", "super"])
def test_extreme_form_fields_never_break_a_form(app, role):
    world = fresh_world(app)
    forms = {_template_of(action, world): form for action, form in discover_forms(app, world, role).items()}
    counts = {"requests": 0, "routes": 0}
    failures: dict[str, str] = {}
    for method, endpoint, path, expected in routes(STATE_CHANGING):
        if role not in admitted_roles(app, endpoint, expected) or path not in forms:
            continue
        world = fresh_world(app)  # an earlier route's accepted posts (a delete, a logout) cannot starve this one
        url, form = fill(path, world), forms[path]
        counts["routes"] += 1
        fields = {n: k for n, k in form["fields"].items() if n != "csrf_token" and k not in ("submit", "button")}
        fields.update({n + CLAIM_SUFFIX: "hidden" for n, k in list(fields.items()) if k == "file"})
        for name, kind in fields.items():
            for value in field_values(kind):
                data = plausible_post(form)  # the other fields plausible, so this one meets deeper validation
                for key_field in [n for n in data if n.endswith("idempotency_key")]:
                    data[key_field] = uuid.uuid4().hex  # as a page loaded afresh: a reused key is refused first
                data[name] = [_materialise(v) for v in value] if isinstance(value, list) else _materialise(value)
                client = client_for(app, world, role)
                where = (f"{endpoint} {name}", f"{method} {url} {name}={_short(value)} as {role}")
                _send(client, method, url, counts, failures, where, data=data, content_type="multipart/form-data")
    record("fuzz_params", requests=counts["requests"], server_errors=len(failures))
    print(f"form fuzz as {role}: {counts['requests']} posts to {counts['routes']} forms, {len(failures)} failures")
    assert not failures, _report(failures)


# -- the classes the walk found, one readable case each -------------------------------------------------------


def test_huge_page_numbers_and_far_dates_are_clamped_not_a_500(login_as):
    from datetime import date

    from app.validators import LATEST_DATE, query_date, query_page

    admin = login_as("admin")
    for query in (f"page={2**63}", f"page={10**30}", "page=-1", "to=9999-12-31", "from=0001-01-01", "q=%00"):
        assert admin.get(f"/admin/leads?{query}").status_code == 200, query
    assert admin.get("/admin/audit?date_to=9999-12-31").status_code == 422  # a form: it says which date to fix
    assert query_page({"page": str(2**63)}) == 100_000 and query_page({"page": "x" * 5000}) == 1
    assert query_date("9999-12-31") == LATEST_DATE and query_date("2024-02-30") is None
    assert query_date("2024-05-01T10:00") == date(2024, 5, 1)


def test_the_analytics_pdf_of_a_range_without_data_is_a_pdf(login_as):
    response = login_as("super_admin").get("/super/analytics/export.pdf?date_from=2004-05-01&date_to=2004-05-01")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_a_file_part_where_text_is_expected_is_ignored_not_a_500(login_as):
    admin = login_as("admin")
    data = {"title": (io.BytesIO(b"a file"), "title.txt"), "content": "Hello partners"}
    response = admin.post("/admin/announcements/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 422  # the title is missing: what was sent in its place was a file
