"""IDOR over the API: the other partner's owner, with its access token and with an API key holding every scope,
sends every API operation that names one of cp's records a VALID body (one the owner's own request is accepted
with): always 404, and no table changes. Like tests/test_idor.py for the pages, the operations come from the
permission table (tests/api_access_table.py), so a new resource is walked as soon as it is listed there."""

import io
import re
import uuid

import pytest
import sqlalchemy as sa

from app.access import CP, allowed_roles_for
from app.extensions import db
from app.models import Lead, StoredFile
from tests import factories
from tests.api_access_table import API_ROUTES
from tests.api_support import bearer, key_for, key_headers, token_for
from tests.report_summary import record
from tests.security_support import changed_tables, fingerprint
from tests.storage_support import pdf_bytes
from tests.world import build_world

SHARED_IDS = {"category"}  # the catalogue: every partner may read it
PLACEHOLDER = re.compile(r"{(\w+)}")


def _lead_version(world) -> int:
    return db.session.scalar(sa.select(Lead.version).where(Lead.id == world["ids"]["lead"]))


# A valid body for each operation that takes one (None: it takes none). `file_id` is an evidence file the caller
# reserved and sent itself. An operation missing here fails the walk: say what a valid request is.
BODIES = {
    "PUT api_leads.set_amounts": lambda w, f: {
        "lead_value": "12000.00",
        "commission_amount": "1200.00",
        "version": _lead_version(w),
    },
    "POST api_leads.change_stage": lambda w, f: {"stage": "qualified", "version": _lead_version(w)},
    "POST api_evidence.reserve_evidence": lambda w, f: {"filename": "mine.pdf", "size": 64},
    "POST api_evidence.add_evidence": lambda w, f: {"file_id": f, "description": "mine now"},
    "POST api_money.request_settlement": None,
    "POST api_notifications.mark_read": None,
    "POST api_partners.change_member_role": lambda w, f: {"role": "manager"},
    "POST api_partners.deactivate_member": None,
    "POST api_partners.reactivate_member": None,
    "POST api_partners.invite_member": lambda w, f: {"email": "recruit@example.test", "role": "viewer"},
    "POST api_partners.revoke_invite": None,
}


def admits_cps(app, endpoint: str) -> bool:
    with app.test_request_context():
        declared = allowed_roles_for(endpoint)
    return isinstance(declared, tuple) and CP in declared


def id_operations(app):
    """(key, path template, expected) of every operation admitting partners whose path names a record."""
    for key, (path, expected) in sorted(API_ROUTES.items()):
        names = set(PLACEHOLDER.findall(path))
        if names and admits_cps(app, key.split(" ", 1)[1]):
            yield key, path, expected, names


def _evidence_file(client, headers, lead_id) -> str:
    """An evidence file reserved and sent by the caller for a lead it works: its file_id."""
    ticket = client.post(
        f"/api/v1/leads/{lead_id}/evidence/uploads", json={"filename": "own.pdf", "size": 64}, headers=headers
    ).json
    form = {"file": (io.BytesIO(pdf_bytes()), "own.pdf")}
    assert client.post(ticket["upload_url"], data=form, content_type="multipart/form-data").status_code == 204
    return ticket["file_id"]


def _body(key: str, world, file_id):
    method = key.split(" ", 1)[0]
    if method == "GET":
        return None
    assert key in BODIES, f"{key}: add a valid body to BODIES in tests/test_api_idor.py"
    make = BODIES[key]
    return make(world, file_id) if make else None


def test_the_other_partner_gets_404_for_every_record_of_the_owner_and_changes_nothing(app):
    world = build_world()
    client = app.test_client()
    other = world["users"]["other"]
    own_lead = factories.make_lead(assignee=world["partners"]["other"], title="The other's own")
    db.session.commit()
    principals = {"token": bearer(token_for(other)), "key": key_headers(key_for(other))}
    intruder_files = {name: _evidence_file(client, headers, own_lead.id) for name, headers in principals.items()}
    assert (
        client.get("/api/v1/auth/me", headers=principals["key"]).status_code == 200
    )  # the key's first use is noted now

    before = fingerprint()
    attempts, shared, wrong, walked = 0, 0, [], []
    for key, path, expected, names in id_operations(app):
        method = key.split(" ", 1)[0]
        if expected["other"] not in (404, 422):
            if names <= SHARED_IDS and expected["other"] == expected["cp"]:
                shared += 1
                continue
            wrong.append(f"{key} {path}: the table lets the other partner get {expected['other']}, not 404")
            continue
        walked.append((key, path))
        for name, headers in principals.items():
            body = _body(key, world, intruder_files[name])
            answer = client.open(path.format(**world["ids"]), method=method, json=body, headers=headers)
            attempts += 1
            if answer.status_code != 404:
                wrong.append(f"{key} {path} ({name}): {answer.status_code} {answer.get_data(as_text=True)[:200]}")
    # A record named under the intruder's own parent (its own lead, its own partner) is missing all the same.
    own_parent = {"lead": own_lead.id, "evidence_lead": own_lead.id, "partner": world["ids"]["other_partner"]}
    for key, path in walked:
        names = PLACEHOLDER.findall(path)
        if len(names) < 2 or names[0] not in own_parent:
            continue
        method = key.split(" ", 1)[0]
        for name, headers in principals.items():
            mixed = path.format(**{**world["ids"], names[0]: own_parent[names[0]]})
            answer = client.open(mixed, method=method, json=_body(key, world, intruder_files[name]), headers=headers)
            attempts += 1
            if answer.status_code != 404:
                wrong.append(f"{key} {mixed} ({name}, under its own {names[0]}): {answer.status_code}")
    changed = changed_tables(before, fingerprint())
    record("api_idor", attempts=attempts, not_404=len(wrong), shared_catalogue_operations=shared)
    print(f"API IDOR attempts: {attempts}, {'all 404' if not wrong else f'{len(wrong)} not 404'}")
    assert len(walked) >= 19 and attempts > 2 * len(walked)
    assert not wrong, "\n".join(wrong)
    assert changed == [], f"the intruder's requests changed {changed}"

    # The bodies were valid: the owner's own requests with them are not refused as missing or malformed.
    owner = bearer(token_for(world["users"]["cp"]))
    owner_file = _evidence_file(client, owner, world["ids"]["lead"])
    for key, path in walked:
        method = key.split(" ", 1)[0]
        answer = client.open(
            path.format(**world["ids"]), method=method, json=_body(key, world, owner_file), headers=owner
        )
        assert answer.status_code in (200, 201, 409), f"the owner's {key}: {answer.status_code} {answer.json}"


def test_a_ticket_opens_only_its_own_file(app):
    """The public upload endpoint: no identity, so its ticket is the authority. The other partner's ticket (for its
    own reservation) cannot send bytes into cp's reservation."""
    world = build_world()
    client = app.test_client()
    own_lead = factories.make_lead(assignee=world["partners"]["other"], title="The other's own")
    db.session.commit()

    def reserve(user, lead_id):
        return client.post(
            f"/api/v1/leads/{lead_id}/evidence/uploads",
            json={"filename": "x.pdf", "size": 64},
            headers=bearer(token_for(user)),
        ).json

    victim = reserve(world["users"]["cp"], world["ids"]["lead"])
    intruder = reserve(world["users"]["other"], own_lead.id)
    token = intruder["upload_url"].split("?token=")[1]
    target = victim["upload_url"].split("?")[0]
    answer = client.post(
        f"{target}?token={token}",
        data={"file": (io.BytesIO(pdf_bytes()), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 403
    db.session.expire_all()
    assert db.session.get(StoredFile, uuid.UUID(victim["file_id"])).is_ready is False


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_a_colleague_cannot_act_as_the_owner_on_the_team(app, role):
    """Owner-only operations refuse the partner's own managers and viewers before anything is looked up."""
    world = build_world()
    client = app.test_client()
    headers = bearer(token_for(world["users"][role]))
    before = fingerprint()
    for key, (path, expected) in API_ROUTES.items():
        if expected[role] == 403 and "{partner}" in path and key.startswith("POST"):
            body = _body(key, world, None) if key in BODIES else {}
            assert client.post(path.format(**world["ids"]), json=body, headers=headers).status_code == 403, key
    assert changed_tables(before, fingerprint()) == []
