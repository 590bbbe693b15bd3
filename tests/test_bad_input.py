"""Bad input, generated: every state-changing route gets Hypothesis-made values in every field of its form
(empty, huge, unicode, control characters, absurd money, far dates, wrong types, lists). Never a 500; a
refusal is a 4xx with a body and leaves every table exactly as it was.

Bounded for CI: BAD_INPUT_EXAMPLES examples per route (default 10), no deadline.
"""

import os
import re
import time
import traceback

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.report_summary import record
from tests.security_support import (
    STATE_CHANGING,
    admitted_roles,
    changed_tables,
    client_for,
    discover_forms,
    fill,
    fingerprint,
    fresh_world,
    plausible_value,
    routes,
)

EXAMPLES = int(os.environ.get("BAD_INPUT_EXAMPLES", "10"))
# Used when no page of the world renders the route's form: the names forms in this app use.
COMMON_FIELDS = [
    "title", "description", "note", "body", "name", "company_name", "email", "reference", "amount",
    "lead_value", "commission_amount", "fee_type", "fee_value", "paid_on", "stage", "direction", "approve",
]  # fmt: skip

NASTY = [
    "", " ", "\t\n", "0", "-0", "0.001", "0.005", "-1", "-0.01", "1e309", "-1e309", "1e-309", "NaN", "nan", "-NaN",
    "Infinity", "-Infinity", "inf", "99999999999999.99", "100000000000000", "9" * 40, "1,000.00", "$1000", "1 000",
    "0x10", "١٢٣", "½", "0001-01-01", "9999-12-31", "1970-01-01", "2024-02-30", "31/12/2024", "null", "None",
    "true", "[]", "{}", "<script>alert(1)</script>", "' OR 1=1 --", "\x00", "a\x00b", "\u202eevil", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "😀" * 50, "x" * 5000, "x" * 100_001, "../../etc/passwd", "%s%s%n", "00000000-0000-0000-0000-000000000000",
]  # fmt: skip

scalar = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=200),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.dates().map(lambda d: d.isoformat()),
)
# A field sent twice is the "wrong type" a form can receive: a list instead of one value.
field_value = st.one_of(scalar, st.lists(scalar, min_size=2, max_size=3))


def form_strategy(fields: dict[str, str], options: dict[str, list[str]]):
    """Each field: a nasty value, or (sometimes) a plausible one, so the nasty ones meet deeper validation."""
    per_field = {}
    for name, kind in fields.items():
        plausible = plausible_value(name, kind, options.get(name))
        per_field[name] = st.one_of(field_value, st.just(plausible)) if kind != "file" else st.just(None)
    return st.fixed_dictionaries({k: v for k, v in per_field.items()})


def _template_of(action: str, world) -> str:
    """The path with the world's ids put back as {placeholders}, to find the same form in a fresh world."""
    for name, value in world["ids"].items():
        action = action.replace(str(value), "{" + name + "}")
    return action


def discovered_forms(app) -> dict[tuple[str, str], dict]:
    world = fresh_world(app)
    forms = {}
    for role in ("anon", "cp", "admin", "super"):
        for action, form in discover_forms(app, world, role).items():
            forms.setdefault((role, _template_of(action, world)), form)
    return forms


def fields_for(form: dict | None) -> tuple[dict, dict]:
    if form is None:
        return {name: "text" for name in COMMON_FIELDS}, {}
    fields = {n: k for n, k in form["fields"].items() if n != "csrf_token" and k not in ("submit", "button")}
    return fields, form["options"]


def fuzz_route(app, world, route: tuple, fields: dict, options: dict, counts: dict, failures: list) -> None:
    """Post EXAMPLES generated versions of the route's form, as its role; record what happened."""
    method, endpoint, role, url = route

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(data=form_strategy(fields, options), htmx=st.booleans())
    def post_generated(data, htmx):
        body = {k: v for k, v in data.items() if v is not None}
        where = f"{method} {endpoint} as {role} with {_short(body)}"
        counts["tried"] += 1
        client = client_for(app, world, role)  # afresh each time: one of the posts is the logout
        before = fingerprint()
        try:
            response = client.open(url, method=method, data=body, headers={"HX-Request": "true"} if htmx else {})
        except Exception as exc:  # the test app propagates a view's exception: that is the 500
            failures.append(f"{where}: 500 {''.join(traceback.format_exception(exc)[-3:])}")
            return
        status = response.status_code
        if status >= 500:
            failures.append(f"{where}: {status}")
        elif status >= 400:
            counts["refused"] += 1
            changed = changed_tables(before, fingerprint())
            if changed:
                failures.append(f"{where}: refused with {status} but changed {changed}")
            if not response.get_data() and "HX-Redirect" not in response.headers:
                failures.append(f"{where}: {status} with an empty body (no message)")
        else:
            counts["accepted"] += 1

    post_generated()


def test_generated_bad_input_never_breaks_a_form(app):
    forms = discovered_forms(app)
    counts = {"routes": 0, "forms_found": 0, "tried": 0, "refused": 0, "accepted": 0}
    failures: list[str] = []
    started = time.monotonic()
    for method, endpoint, path, expected in routes(STATE_CHANGING):
        roles = admitted_roles(app, endpoint, expected)
        if not roles:
            continue
        world = fresh_world(app)  # per route: an earlier route's accepted post cannot starve this one
        fields, options = fields_for(forms.get((roles[0], path)))
        counts["routes"] += 1
        counts["forms_found"] += (roles[0], path) in forms
        fuzz_route(app, world, (method, endpoint, roles[0], fill(path, world)), fields, options, counts, failures)
    seconds = round(time.monotonic() - started)
    record(
        "bad_input",
        routes=counts["routes"],
        routes_with_a_rendered_form=counts["forms_found"],
        generated_inputs=counts["tried"],
        refused_4xx=counts["refused"],
        accepted=counts["accepted"],
        failures=len(failures),
    )
    print(
        f"bad input: {counts['tried']} generated posts to {counts['routes']} routes "
        f"({counts['forms_found']} with a rendered form) in {seconds}s: "
        f"{counts['refused']} refused, {counts['accepted']} accepted, {len(failures)} failures"
    )
    assert counts["routes"] > 0 and counts["tried"] >= counts["routes"]
    assert not failures, "\n".join(failures[:40])


def _short(body: dict) -> str:
    text = repr({k: (v[:40] + "…" if isinstance(v, str) and len(v) > 40 else v) for k, v in body.items()})
    return re.sub(r"\s+", " ", text)[:400]


def test_a_nul_byte_anywhere_is_a_clear_400(client):
    for data in ({"email": "a@b.c\x00", "password": "x"}, {"email": "a@b.c", "password": "pass\x00word"}):
        response = client.post("/auth/login", data=data)
        assert response.status_code == 400
        assert "NUL byte" in response.get_data(as_text=True)
    assert client.get("/healthz?x=%00").status_code == 200  # a query string only reads: the NUL is dropped


def test_a_nul_byte_in_a_search_is_dropped_not_a_500(login_as):
    response = login_as("admin").get("/admin/partners?q=Acme%00Co")
    assert response.status_code == 200 and "AcmeCo" in response.get_data(as_text=True)
