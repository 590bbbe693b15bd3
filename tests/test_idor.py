"""IDOR: the other CP tries every CP route that names a record, with the owner's ids, with every verb the
route has, full page and HTMX: always 404 and nothing changes. Files are tried one by one from the database."""

import re

import pytest
import sqlalchemy as sa

from app.access import CP, allowed_roles_for
from app.extensions import db
from app.files.storage import PUBLIC_KINDS
from app.models import Lead, StoredFile
from tests.report_summary import record
from tests.security_support import changed_tables, client_for, fill, fingerprint, routes
from tests.world import build_world

# Records every CP may see (the catalogue, the asset library, the training modules): a route naming only these may
# answer the other CP like the owner.
SHARED_IDS = {"category", "asset", "training_quiz", "training_file"}
# A member's own training progress: every member, viewers included, takes training (a refusal here is the action's
# own 4xx, not 403); the viewer test still checks that nothing changed.
OWN_PROGRESS = {"cp.training_complete", "cp.training_quiz"}
PLACEHOLDER = re.compile(r"{(\w+)}")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def admits_cps(app, endpoint: str) -> bool:
    with app.test_request_context():
        declared = allowed_roles_for(endpoint)
    return isinstance(declared, tuple) and CP in declared


def methods_of(app, endpoint: str) -> set[str]:
    return {m for rule in app.url_map.iter_rules(endpoint) for m in rule.methods} - IGNORED_METHODS


def id_routes(app):
    """(endpoint, path template, expected, placeholders) of every CP-admitting route whose path names a record."""
    seen = set()
    for _method, endpoint, path, expected in routes():
        names = set(PLACEHOLDER.findall(path))
        if names and admits_cps(app, endpoint) and (endpoint, path) not in seen:
            seen.add((endpoint, path))
            yield endpoint, path, expected, names


@pytest.mark.parametrize("intruder_role", ["other", "other_manager"])
def test_the_other_cp_gets_404_for_every_record_of_the_owner(app, intruder_role):
    """The other partner's owner, and a manager of the other partner: the same 404s."""
    world = build_world()
    intruder = client_for(app, world, intruder_role)
    before = fingerprint()
    attempts, shared, wrong = 0, 0, []
    for endpoint, path, expected, names in id_routes(app):
        if expected["other"] != 404:
            if names <= SHARED_IDS and expected["other"] == expected["cp"]:
                shared += 1
                continue
            wrong.append(f"{endpoint} {path}: the table lets the other CP get {expected['other']}, not 404")
            continue
        for method in sorted(methods_of(app, endpoint)):
            for headers in ({}, {"HX-Request": "true"}):
                response = intruder.open(fill(path, world), method=method, data={"note": "mine now"}, headers=headers)
                attempts += 1
                expect_404 = response.status_code == 404
                # a manager may not reach an owner-only route at all: refused before the record is looked up
                if not expect_404 and not (intruder_role == "other_manager" and response.status_code == 403):
                    wrong.append(f"{method} {path} ({endpoint}) {headers}: {response.status_code}")
    changed = changed_tables(before, fingerprint())
    record("idor", attempts=attempts, not_404=len(wrong), shared_catalogue_routes=shared)
    print(f"IDOR attempts: {attempts}, {'all 404' if not wrong else f'{len(wrong)} not 404'}")
    assert attempts > 0
    assert not wrong, "\n".join(wrong)
    assert changed == [], f"the intruder's requests changed {changed}"


def test_a_viewer_of_the_same_partner_changes_nothing(app):
    """A second member of the same partner with the viewer role: every change in the partner portal is refused
    (403), full page and HTMX, and no table changes."""
    world = build_world()
    viewer = client_for(app, world, "viewer")
    before = fingerprint()
    tried, wrong = 0, []
    for method, endpoint, path, _expected in routes():
        if method == "GET" or not endpoint.startswith("cp."):
            continue
        for headers in ({}, {"HX-Request": "true"}):
            response = viewer.open(fill(path, world), method=method, data={"note": "mine now"}, headers=headers)
            tried += 1
            if endpoint in OWN_PROGRESS and 400 <= response.status_code < 500:
                continue
            if response.status_code != 403:
                wrong.append(f"{method} {path} ({endpoint}) {headers}: {response.status_code}")
    changed = changed_tables(before, fingerprint())
    record("idor", viewer_change_attempts=tried)
    assert tried > 20
    assert not wrong, "\n".join(wrong)
    assert changed == [], f"the viewer's requests changed {changed}"


def test_every_private_file_of_the_owner_is_404_for_the_other_cp(app):
    world = build_world()
    owner = world["partners"]["cp"]
    files = db.session.scalars(
        sa.select(StoredFile).where(
            sa.or_(StoredFile.cp_id == owner.id, StoredFile.uploaded_by == owner.user_id),
            StoredFile.kind.not_in(PUBLIC_KINDS),
        )
    ).all()
    intruder, rightful = client_for(app, world, "other"), client_for(app, world, "cp")
    leaked = []
    for stored in files:
        if rightful.get(f"/files/{stored.id}").status_code != 200:
            continue  # e.g. a fee slip the owner does not see either
        for headers in ({}, {"HX-Request": "true"}):
            if intruder.get(f"/files/{stored.id}", headers=headers).status_code != 404:
                leaked.append(f"{stored.kind} {stored.id}")
    record("idor", attempts=2 * len(files), private_files_tried=len(files))
    print(f"private files of the owner tried as the other CP: {len(files)}, leaked: {len(leaked)}")
    assert files, "the world has no private file of the owner to try"
    assert not leaked, leaked


def test_ids_that_are_not_ids_are_404_too(app):
    world = build_world()
    client = client_for(app, world, "cp")
    probes = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1 OR 1=1", "%00", "..%2f..%2fetc%2fpasswd"]
    tried, wrong = 0, []
    for endpoint, path, _expected, names in id_routes(app):
        for method in sorted(methods_of(app, endpoint)):
            for probe in probes:
                ids = {**world["ids"], **{name: probe for name in names}}
                response = client.open(path.format(**ids), method=method, data={})
                tried += 1
                if response.status_code not in (404, 405):
                    wrong.append(f"{method} {path} with {probe!r}: {response.status_code}")
    record("idor", malformed_id_attempts=tried)
    assert not wrong, "\n".join(wrong)


# --- field level: a CP cannot set what only admins set -------------------------------------------

HOSTILE_NET = "987654.32"


def hostile_fields(world) -> dict:
    """Admin-only columns, with values that would benefit the CP, as a CP might add them to a form post."""
    owner, other = world["partners"]["cp"], world["partners"]["other"]
    return {
        "fee_override_type": "fixed",
        "fee_override_value": "0",
        "allocated_to": str(owner.id),
        "allocation_status": "allocated",
        "status": "paid",
        "settled_by": str(owner.user_id),
        "settled_at": "2020-01-01",
        "settlement_reference": "SELF-SETTLED",
        "bank_slip_file_id": str(other.id),
        "platform_fee_amount": "0",
        "platform_fee": "0",
        "net_commission": HOSTILE_NET,
        "gross_commission": HOSTILE_NET,
        "fee_rule_type": "fixed",
        "fee_rule_value": "0",
        "fee_rule_source": "override",
        "fee_capped": "y",
        "client_paid_cp_directly": "y",
        "cp_id": str(owner.id),
        "role": "admin",
        "approved_by": str(owner.user_id),
        "session_version": "1",
        "must_change_password": "",
    }


def protected_state() -> dict:
    """What a CP must never change, whatever it posts."""
    from app.models import ChannelPartner, CommissionTransaction, CpPayment, Lead, PlatformFeeSettlement, User

    db.session.expire_all()
    state = {
        "leads": {
            lead.id: (
                lead.fee_override_type,
                lead.fee_override_value,
                lead.allocated_to,
                lead.allocation_status,
                lead.originated_by,
            )
            for lead in db.session.scalars(sa.select(Lead))
        },
        "tx": {
            tx.id: (
                tx.settled_by,
                tx.settled_at,
                tx.bank_slip_file_id,
                tx.settlement_reference,
                tx.fee_rule_type,
                tx.fee_rule_value,
                tx.fee_rule_source,
                tx.client_paid_cp_directly,
                tx.cp_id,
            )
            for tx in db.session.scalars(sa.select(CommissionTransaction))
        },
        "tx_status": {tx.id: tx.status for tx in db.session.scalars(sa.select(CommissionTransaction))},
        "partners": {p.id: (p.status, p.approved_by, p.user_id) for p in db.session.scalars(sa.select(ChannelPartner))},
        "users": {u.id: (u.role, u.status) for u in db.session.scalars(sa.select(User))},
        "payments": {p.id: p.status for p in db.session.scalars(sa.select(CpPayment))},
        "fee_settlements": db.session.scalar(sa.select(sa.func.count()).select_from(PlatformFeeSettlement)),
        "money": [
            (lead.id, lead.commission_amount, lead.platform_fee_amount, lead.net_commission)
            for lead in db.session.scalars(sa.select(Lead))
        ],
    }
    db.session.rollback()
    return state


# A CP moves its own lead in and out of Won (SPEC 2.9): that alone may open or void a commission.
CP_STATUS_MOVES = {("pending", "void"), ("void", "pending")}


def violations(before: dict, after: dict) -> list[str]:
    found = []
    for table in ("leads", "tx", "partners", "users", "payments"):
        for key, old in before[table].items():
            if after[table].get(key, old) != old:
                found.append(f"{table} {key}: {old} -> {after[table][key]}")
    for key, status in after["tx_status"].items():
        old = before["tx_status"].get(key)
        if (
            old is None
            and status != "pending"
            or old is not None
            and old != status
            and (old, status) not in CP_STATUS_MOVES
        ):
            found.append(f"commission {key}: status {old} -> {status}")
    for key, values in after["leads"].items():
        if key not in before["leads"] and (values[0] or values[1] or values[2] or values[3] != "pending"):
            found.append(f"new lead {key} came with admin-only values {values}")
    for key, status in after["payments"].items():
        if key not in before["payments"] and status != "pending":
            found.append(f"new payment {key} is {status}")
    if after["fee_settlements"] != before["fee_settlements"]:
        found.append("a platform fee settlement appeared")
    for lead_id, commission, fee, net in after["money"]:
        if str(net) == HOSTILE_NET or (
            commission is not None and fee is not None and net is not None and fee + net != commission
        ):
            found.append(f"lead {lead_id}: commission {commission} != fee {fee} + net {net}")
    return found


def test_a_cp_cannot_set_admin_only_fields_by_adding_them_to_its_posts(app):
    from tests.security_support import STATE_CHANGING, discover_forms, plausible_post, refreshed, went_through

    world = build_world()
    forms = discover_forms(app, world, "cp")
    hostile = hostile_fields(world)
    posts, accepted, problems, accepted_by = 0, 0, [], set()
    for method, endpoint, path, _expected in routes(STATE_CHANGING):
        if not admits_cps(app, endpoint):
            continue
        url = fill(path, world)
        before = protected_state()
        for headers in ({}, {"HX-Request": "true"}):
            client = client_for(app, world, "cp")  # afresh: logging out is one of the posts
            data = plausible_post(refreshed(client, forms.get(url), url))  # afresh: uploads are read once
            data.update({k: v for k, v in hostile.items() if k not in data})
            response = client.open(url, method=method, data=data, headers=headers, content_type="multipart/form-data")
            posts += 1
            if went_through(response):
                accepted += 1
                accepted_by.add(endpoint)
            assert response.status_code < 500, f"{method} {endpoint}: {response.status_code}"
        problems += [f"{method} {endpoint}: {v}" for v in violations(before, protected_state())]
    record("field_level", cp_posts_with_admin_fields=posts, accepted_posts=accepted, admin_fields_changed=len(problems))
    print(
        f"CP posts carrying admin-only fields: {posts} ({accepted} accepted), admin-only values changed: {len(problems)}"
    )
    print("accepted by:", ", ".join(sorted(accepted_by)))
    assert accepted > 0, "no post was accepted, so the test proved nothing"
    assert not problems, "\n".join(problems)


def test_the_field_check_notices_an_admin_only_change(app):
    world = build_world()
    before = protected_state()
    lead = db.session.get(Lead, world["ids"]["lead"])
    lead.fee_override_type, lead.fee_override_value = "fixed", 0
    db.session.commit()
    assert violations(before, protected_state())
