"""Double submissions (issue 15, item 10): a form sent five times at once creates once and answers alike.

Every form the portals render is found by walking the pages (tests/security_support.discover_forms), so a form
added later is covered without editing this file. Each is sent once on a fresh world, then five identical times
(the same fields, the same idempotency key, the same session cookie) on another: the tables must grow exactly as
they did for one submission (one row, one audit record, one notification per recipient, one email), none of the
five may answer 500, and a form that would create twice has to carry an idempotency key. On PostgreSQL the five
are sent at the same moment from five threads; on SQLite one after another (a double click that arrives late).
"""

import re
import threading
import uuid

import sqlalchemy as sa

from app.extensions import db
from app.idempotency import FIELD
from app.models import Announcement, AuditEvent, EmailOutbox, IdempotencyKey, LeadNote, Notification
from tests import factories
from tests.conftest import is_postgres, login, requires_postgres
from tests.report_summary import record
from tests.security_support import (
    client_for,
    discover_forms,
    fill,
    fresh_world,
    plausible_post,
    refreshed,
    row_counts,
)

TWINS = 5
# Answers that show a secret once (a webhook's signing secret): never stored as a replay, so a twin is sent back to
# the page instead of getting the first answer again (tests/test_webhooks.py and tests/test_api_keys.py check it).
SHOWN_ONCE = ("/webhooks/{webhook}/secret", "/webhooks/{webhook}/rotate")
ROLES = ("cp", "admin", "super")
# Bookkeeping of the mechanism itself and of logging in, not what the form creates.
NOT_CREATED = {"idempotency_keys", "user_sessions"}


def send_together(clients, url: str, bodies: list[dict], headers: dict | None = None) -> list:
    """POST each body with its own client: from threads released at once on PostgreSQL, in turn on SQLite."""
    if not is_postgres():
        return [c.post(url, data=b, headers=headers or {}) for c, b in zip(clients, bodies, strict=True)]
    db.session.remove()  # the test's own session holds nothing while the requests run
    start, answers, errors = threading.Barrier(len(clients)), [None] * len(clients), []

    def send(i):
        try:
            start.wait()
            answers[i] = clients[i].post(url, data=bodies[i], headers=headers or {})
        except Exception as exc:  # the test app propagates a view's exception: that is a 500
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return answers


def same_cookie_clients(app, user, n: int) -> list:
    """n test clients sharing one login: the same session cookie, as tabs of one browser."""
    first = login(app.test_client(), user)
    cookie = first.get_cookie("session")
    clients = [first]
    for _ in range(n - 1):
        other = app.test_client()
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
        clients.append(other)
    return clients


def _templated(path: str, world) -> str:
    for name, value in world["ids"].items():
        path = path.replace(str(value), "{" + name + "}")
    return path


def all_forms(app) -> list[tuple[str, str, dict]]:
    """(role, action template, form) of every POST form the roles' pages render, with the page as a template."""
    world = fresh_world(app)
    found = []
    for role in ROLES:
        for action, form in discover_forms(app, world, role).items():
            found.append((role, _templated(action, world), {**form, "page": _templated(form["page"], world)}))
    return found


def has_key(form: dict) -> bool:
    return any(name == FIELD or name.endswith(f"-{FIELD}") for name in form["fields"])


def submit(app, role: str, action: str, form: dict, copies: int) -> tuple[dict, list]:
    """On a fresh world: `copies` identical submissions of the form as rendered now; (rows added, answers)."""
    world = fresh_world(app)
    url = fill(action, world)
    user = world["users"][role]
    page_form = refreshed(client_for(app, world, role), {**form, "page": fill(form["page"], world)}, url)
    data = plausible_post(page_form)
    bodies = [data] + [plausible_post(page_form) for _ in range(copies - 1)]  # files are read once: one each
    for body in bodies[1:]:
        for name, value in data.items():
            if not isinstance(value, tuple):
                body[name] = value  # exactly the first's values (the same key among them)
    before = row_counts()
    answers = send_together(same_cookie_clients(app, user, copies), url, bodies)
    after = row_counts()
    added = {t: after[t] - before[t] for t in after if t not in NOT_CREATED and after[t] != before[t]}
    return added, answers


def test_every_create_form_creates_once_when_sent_five_times_at_once(app):
    forms = all_forms(app)
    failures = []
    counts = {"forms": 0, "create_forms": 0, "submissions": 0, "duplicates": 0, "with_key": 0, "refused": 0}
    for role, action, form in forms:
        counts["forms"] += 1
        once, [answer] = submit(app, role, action, form, 1)
        where = f"{role} {action}"
        if answer.status_code >= 500:
            failures.append(f"{where}: one submission answered {answer.status_code}")
            continue
        if answer.status_code >= 400 and not once:
            counts["refused"] += 1  # refused and nothing written: copies on the same state are refused alike
            continue
        twice, answers = submit(app, role, action, form, TWINS)
        counts["submissions"] += TWINS + 1
        counts["with_key"] += has_key(form)
        if any(a.status_code >= 500 for a in answers):
            failures.append(f"{where}: {[a.status_code for a in answers]}")
        if any(n > 0 for n in once.values()):
            counts["create_forms"] += 1
        if twice != once:
            counts["duplicates"] += 1
            missing = "" if has_key(form) else " and the form carries no idempotency key"
            failures.append(f"{where}: one submission added {once}, {TWINS} identical ones added {twice}{missing}")
        elif has_key(form) and any(n > 0 for n in once.values()) and not action.endswith(SHOWN_ONCE):
            replies = {(a.status_code, a.headers.get("Location"), a.headers.get("HX-Redirect")) for a in answers}
            if len(replies) != 1:
                failures.append(f"{where}: the twins did not answer as the first: {replies}")
    record(
        "create_races",
        forms=counts["forms"],
        create_forms=counts["create_forms"],
        forms_with_key=counts["with_key"],
        refused_alone=counts["refused"],
        submissions=counts["submissions"],
        duplicates=counts["duplicates"],
        concurrent=is_postgres(),
    )
    print(f"create races: {counts}")
    assert counts["create_forms"] >= 10, counts  # the walk did reach the create forms
    assert not failures, "\n".join(failures)


# --- the cases of the issue, and the mechanism's edges ------------------------------------------------


def _announcement_key(client) -> str:
    page = client.get("/admin/announcements/new").get_data(as_text=True)
    return re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]{32})"', page).group(1)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_five_identical_announcement_submits_send_one_announcement(app, mail_outbox):
    partners = [factories.make_partner(company=f"Partner {i}") for i in range(3)]
    admin = factories.make_user("admin")
    db.session.commit()
    clients = same_cookie_clients(app, admin, TWINS)
    key = _announcement_key(clients[0])
    body = {"title": "Price list", "content": "New prices from May.", "target": "all", "send_email": "y"}
    answers = send_together(clients, "/admin/announcements/new", [{**body, FIELD: key} for _ in range(TWINS)])
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["Location"] for a in answers}) == 1
    assert count(Announcement) == 1
    assert count(Notification, Notification.event == "announcement") == len(partners)
    assert count(EmailOutbox) <= len(partners)  # one email per partner at most (those who take emails)
    emails = count(EmailOutbox)
    assert count(AuditEvent, AuditEvent.action.like("announcement%")) <= 1
    # A new form (a new key) is a new announcement.
    again = clients[0].post("/admin/announcements/new", data={**body, FIELD: _announcement_key(clients[0])})
    assert again.status_code == 303 and count(Announcement) == 2 and count(EmailOutbox) == 2 * emails


def test_a_key_sent_again_with_other_contents_is_refused(login_as):
    factories.make_partner()
    client = login_as("admin")
    key = _announcement_key(client)
    body = {"title": "First", "content": "Hello.", "target": "all", FIELD: key}
    assert client.post("/admin/announcements/new", data=body).status_code == 303
    changed = client.post("/admin/announcements/new", data={**body, "title": "Second"})
    assert changed.status_code == 409 and "already sent" in changed.get_data(as_text=True)
    assert count(Announcement) == 1


def test_a_refused_submission_frees_its_key(login_as):
    factories.make_partner()
    client = login_as("admin")
    key = _announcement_key(client)
    refused = client.post("/admin/announcements/new", data={"title": "", "content": "x", "target": "all", FIELD: key})
    assert refused.status_code == 422 and count(IdempotencyKey) == 0
    assert key in refused.get_data(as_text=True)  # the form shown for correction keeps its key
    fixed = client.post(
        "/admin/announcements/new", data={"title": "Fixed", "content": "x", "target": "all", FIELD: key}
    )
    assert fixed.status_code == 303 and count(Announcement) == 1


def test_a_form_without_a_key_still_works(login_as):
    factories.make_partner()
    client = login_as("admin")
    response = client.post("/admin/announcements/new", data={"title": "Old page", "content": "x", "target": "all"})
    assert response.status_code == 303 and count(Announcement) == 1 and count(IdempotencyKey) == 0


def test_htmx_note_twins_get_the_same_partial_and_the_form_comes_back_with_a_new_key(app):
    partner = factories.make_partner()
    lead = factories.make_lead(assignee=partner, title="Twin notes")
    db.session.commit()
    clients = same_cookie_clients(app, partner.user, TWINS)
    page = clients[0].get(f"/cp/leads/{lead.id}").get_data(as_text=True)
    field, key = re.search(
        r'name="(l[0-9a-f]{12}-idempotency_key)" type="hidden" value="([0-9a-f]{32})"', page
    ).groups()
    prefix = field.split("-", 1)[0]
    body = {f"{prefix}-body": "Called the client.", field: key, "context": "panel"}
    headers = {"HX-Request": "true"}
    answers = send_together(clients, f"/cp/leads/{lead.id}/notes", [dict(body) for _ in range(TWINS)], headers)
    assert {a.status_code for a in answers} == {200}
    assert len({a.get_data(as_text=True) for a in answers}) == 1  # the first's partial, replayed
    assert count(LeadNote, LeadNote.lead_id == lead.id) == 1
    partial = answers[0].get_data(as_text=True)
    fresh = re.search(rf'name="{field}" type="hidden" value="([0-9a-f]{{32}})"', partial).group(1)
    assert fresh != key  # the next note is a new submission


def test_keys_are_per_user(app):
    a, b = factories.make_user("admin"), factories.make_user("admin")
    factories.make_partner()
    db.session.commit()
    key = uuid.uuid4().hex
    body = {"title": "Same key", "content": "x", "target": "all", FIELD: key}
    assert login(app.test_client(), a).post("/admin/announcements/new", data=body).status_code == 303
    assert login(app.test_client(), b).post("/admin/announcements/new", data=body).status_code == 303
    assert count(Announcement) == 2


@requires_postgres
def test_cp_lead_submissions_race_to_one_lead(app):
    """The CP's lead form from the showcase, five times at once: one lead, one notification to each admin."""
    partner = factories.make_partner()
    category = factories.make_category("Race category")
    admin_ids = [factories.make_user("admin").id for _ in range(2)]
    db.session.commit()
    clients = same_cookie_clients(app, partner.user, TWINS)
    page = clients[0].get(f"/cp/categories/{category.id}/lead").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    body = {"first_name": "Ann", "last_name": "Roof", "contact_email": "ann@example.com", FIELD: key}
    answers = send_together(clients, f"/cp/categories/{category.id}/lead", [dict(body) for _ in range(TWINS)])
    assert {a.status_code for a in answers} == {302}
    from app.models import Lead

    assert count(Lead, Lead.title == "Ann Roof") == 1
    per_admin = db.session.execute(
        sa.select(Notification.user_id, sa.func.count())
        .where(Notification.user_id.in_(admin_ids))
        .group_by(Notification.user_id)
    ).all()
    assert all(n == 1 for _user, n in per_admin)  # no admin is told twice
