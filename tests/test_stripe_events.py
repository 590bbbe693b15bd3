"""The Stripe webhook under events Stripe's signature vouches for but the app must still distrust: malformed shapes
(a table of them, then Hypothesis over JSON shapes, each signed with Stripe's scheme) and stale Checkout Sessions
(two checkouts and the old one completes; both complete; a completion after a bank transfer was confirmed).

What must hold: never a 500 (400 with a JSON error for an event we cannot read, 200 for a well-formed one), nothing
changed by an event that is refused, exactly one counted payment per fee, and any other money refunded through
Stripe (the local stub) with an audit row, or flagged for an admin when the refund fails."""

import io
import json
import threading
import traceback
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import AuditEvent, CommissionTransaction, CpPayment, Notification, StripeEvent
from app.money import payments, stripe_events
from tests import stripe_support
from tests.conftest import login, requires_postgres
from tests.report_summary import record
from tests.storage_support import pdf_bytes
from tests.stripe_support import deliver, event, pay_card, payments_of, signed, start_checkout

stripe_stub, direct = stripe_support.stripe_stub, stripe_support.direct  # fixtures

EXAMPLES = 120


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def actions_for(payment_id) -> list[str]:
    stmt = (
        sa.select(AuditEvent.action)
        .where(AuditEvent.entity_type == "cp_payments", AuditEvent.entity_id == str(payment_id))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return list(db.session.scalars(stmt))


def counted(tx_id) -> list[CpPayment]:
    return [p for p in payments_of(tx_id) if p.status == "completed"]


# --- malformed but correctly signed ------------------------------------------------------------


def _completed(payment, **changes) -> dict:
    body = json.loads(event(payment))
    body.update(changes)
    return body


def _with_object(payment, **changes) -> dict:
    body = json.loads(event(payment))
    body["data"]["object"].update(changes)
    return body


def _without(payment, *keys) -> dict:
    body = json.loads(event(payment))
    for key in keys:
        body.pop(key)
    return body


class Raw(str):
    """A body sent as it is (not JSON-encoded)."""


# (name, the event built from the pending payment, the answer). 400: we cannot read it; 200: not ours / irrelevant.
SHAPES = [
    ("not JSON", lambda p: Raw("not json"), 400),
    ("a JSON array", lambda p: [], 400),
    ("a JSON number", lambda p: 42, 400),
    ("JSON null", lambda p: None, 400),
    ("a JSON string", lambda p: "evt_1", 400),
    ("nested too deep", lambda p: Raw("[" * 100_000 + "]" * 100_000), 400),
    ("no id", lambda p: _without(p, "id"), 400),
    ("no type", lambda p: _without(p, "type"), 400),
    ("no data", lambda p: _without(p, "data"), 400),
    ("id a number", lambda p: _completed(p, id=123), 400),
    ("id empty", lambda p: _completed(p, id=""), 400),
    ("id with NUL", lambda p: _completed(p, id="evt_\x00x"), 400),
    ("id 10,000 characters", lambda p: _completed(p, id="evt_" + "x" * 10_000), 400),
    ("type null", lambda p: _completed(p, type=None), 400),
    ("type a list", lambda p: _completed(p, type=["checkout.session.completed"]), 400),
    ("data a list", lambda p: _completed(p, data=[1, 2]), 400),
    ("data without object", lambda p: _completed(p, data={}), 400),
    ("object a string", lambda p: _completed(p, data={"object": "cs_1"}), 400),
    ("object a list", lambda p: _completed(p, data={"object": [{"id": "cs_1"}]}), 400),
    ("object null", lambda p: _completed(p, data={"object": None}), 400),
    ("metadata a list", lambda p: _with_object(p, metadata=[str(p.id)]), 400),
    ("metadata a string", lambda p: _with_object(p, metadata=str(p.id)), 400),
    ("metadata value a number", lambda p: _with_object(p, metadata={"payment_id": 7}), 400),
    ("metadata value null", lambda p: _with_object(p, metadata={"payment_id": None}), 400),
    ("metadata value a map", lambda p: _with_object(p, metadata={"payment_id": {"id": str(p.id)}}), 400),
    ("payment_id with NUL", lambda p: _with_object(p, metadata={"payment_id": f"{p.id}\x00"}), 400),
    ("amount_total a string", lambda p: _with_object(p, amount_total="10000"), 400),
    ("amount_total a float", lambda p: _with_object(p, amount_total=100.0), 400),
    ("amount_total a boolean", lambda p: _with_object(p, amount_total=True), 400),
    ("payment_status a number", lambda p: _with_object(p, payment_status=1), 400),
    ("payment_intent a list", lambda p: _with_object(p, payment_intent=["pi_1"]), 400),
    ("client_reference_id a number", lambda p: _with_object(p, client_reference_id=5, metadata={}), 400),
    ("object id a map", lambda p: _with_object(p, id={"id": "cs_1"}), 400),
    ("object kind a number", lambda p: _with_object(p, object=3), 400),
    ("payment_id not a UUID", lambda p: _with_object(p, id="cs_other", metadata={"payment_id": "pay_42"}), 200),
    (
        "payment_id of no payment",
        lambda p: _with_object(p, id="cs_other", metadata={"payment_id": str(uuid.uuid4())}),
        200,
    ),
    ("session id matching nothing", lambda p: _with_object(p, id="cs_nothing", metadata={}), 200),
    ("unknown type, junk data", lambda p: _completed(p, type="invoice.paid", data="junk"), 200),
    ("unknown type, no data", lambda p: _without(p, "data") | {"type": "customer.created"}, 200),
    ("refund event for our payment", lambda p: _completed(p, type="charge.refunded"), 200),
]


def _deliver_raw(app, built):
    return deliver(app, built if isinstance(built, Raw) else json.dumps(built))


@pytest.mark.parametrize("build,expected", [(b, e) for _, b, e in SHAPES], ids=[name for name, _, _ in SHAPES])
def test_a_malformed_but_signed_event_is_answered_without_a_500_and_changes_nothing(
    app, stripe_stub, direct, build, expected
):
    payment = start_checkout(app, direct)
    response = _deliver_raw(app, build(payment))
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected == 400:
        assert response.is_json and response.json["error"]
        assert count(StripeEvent) == 0
    else:
        assert response.json == {"received": True, "processed": False}
    (same,) = payments_of(direct["tx_id"])
    assert same.status == "pending" and same.stripe_payment_id is None and not same.needs_review
    assert actions_for(payment.id) == ["payment.started"]
    assert stripe_stub.calls("POST", "/v1/refunds") == []
    record("stripe_events", tried=1, held=1, malformed_shapes=1)


def test_a_body_that_is_not_utf8_is_refused(app, stripe_stub, direct):
    body = b'{"id": "evt_\xff\xfe", "type": "checkout.session.completed"}'
    signature = signed(body.decode("latin-1"))
    response = app.test_client().post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": signature}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"]
    assert count(StripeEvent) == 0
    record("stripe_events", tried=1, held=1, malformed_shapes=1)


def test_an_expanded_payment_intent_is_read_and_counted_once(app, stripe_stub, direct):
    """Not malformed: Stripe sends the PaymentIntent as an object when it is expanded."""
    payment = start_checkout(app, direct)
    body = _with_object(payment, payment_intent={"id": "pi_expanded", "object": "payment_intent"})
    assert deliver(app, json.dumps(body)).json == {"received": True, "processed": True}
    (done,) = counted(direct["tx_id"])
    assert done.stripe_payment_id == "pi_expanded"


# Any JSON value, a little deep: what a broken or hostile sender could put anywhere.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


DELETE = object()
FIELDS = [
    ("id",),
    ("type",),
    ("data",),
    ("data", "object"),
    ("data", "object", "id"),
    ("data", "object", "object"),
    ("data", "object", "payment_status"),
    ("data", "object", "payment_intent"),
    ("data", "object", "amount_total"),
    ("data", "object", "client_reference_id"),
    ("data", "object", "metadata"),
    ("data", "object", "metadata", "payment_id"),
]


def _mutated(base: dict, changes) -> dict:
    """The event with each (path, value) applied where the path still leads to a map (DELETE removes it)."""
    body = json.loads(json.dumps(base))
    for path, value in changes:
        parent = body
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if value is DELETE:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return body


def event_shapes(payment_id: str, session_id: str):
    """Real-looking events with up to three fields removed or replaced by any JSON value; now and then any JSON at
    all. The type is one we handle or not, the payment reference ours or not, so some events do apply."""
    kinds = st.sampled_from([*stripe_events.HANDLED, "charge.refunded", "invoice.paid"])
    refs = st.sampled_from([payment_id, str(uuid.uuid4()), "not-a-uuid"])
    base = st.builds(
        lambda kind, ref, status, n: {
            "id": f"evt_gen_{n}",
            "object": "event",
            "type": kind,
            "data": {
                "object": {
                    "id": session_id,
                    "object": "checkout.session",
                    "payment_status": status,
                    "payment_intent": "pi_generated",
                    "amount_total": 10_000,
                    "client_reference_id": ref,
                    "metadata": {"payment_id": ref},
                }
            },
        },
        kinds,
        refs,
        st.sampled_from(["paid", "unpaid", "no_payment_required"]),
        st.integers(0, 10**9),
    )
    changes = st.lists(st.tuples(st.sampled_from(FIELDS), st.one_of(st.just(DELETE), JSON)), max_size=3)
    mutated = st.builds(_mutated, base, changes)
    return st.one_of(mutated, mutated, mutated, JSON)


def test_generated_event_shapes_never_answer_500_and_count_at_most_one_payment(app, stripe_stub, direct):
    payment = start_checkout(app, direct)
    figures = {"tried": 0, "held": 0, "refused_400": 0, "accepted_200": 0}
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(raw=event_shapes(str(payment.id), payment.stripe_checkout_session_id))
    def deliver_generated(raw):
        figures["tried"] += 1
        before = count(StripeEvent)
        try:
            response = deliver(app, json.dumps(raw))
        except Exception as exc:  # the test app propagates a view's exception: that is the 500
            db.session.rollback()
            failures.append(f"{raw!r:.300}: 500 {''.join(traceback.format_exception(exc)[-2:])}")
            return
        db.session.expire_all()
        status = response.status_code
        if status == 400 and response.is_json and response.json.get("error") and count(StripeEvent) == before:
            figures["refused_400"] += 1
        elif status == 200 and response.is_json and response.json.get("received") is True:
            figures["accepted_200"] += 1
        else:
            failures.append(f"{raw!r:.300}: {status} {response.get_data(as_text=True)[:200]}")
            return
        if len(counted(direct["tx_id"])) > 1:
            failures.append(f"{raw!r:.300}: two payments counted")
            return
        figures["held"] += 1

    deliver_generated()
    record("stripe_events", generated_events=figures["tried"], **figures)
    assert not failures, "\n".join(failures[:10])
    assert len(counted(direct["tx_id"])) <= 1
    assert figures["refused_400"] and figures["accepted_200"]  # the strategy reaches both answers
    assert [p.id for p in counted(direct["tx_id"])] == [payment.id]  # and some events did apply


# --- stale Checkout Sessions -------------------------------------------------------------------


def assert_refunded_once(stub, payment: CpPayment) -> None:
    db.session.expire_all()
    payment = db.session.get(CpPayment, payment.id)
    refunds = [r for r in stub.calls("POST", "/v1/refunds") if r["fields"]["metadata[payment_id]"] == str(payment.id)]
    assert {r["idempotency_key"] for r in refunds} == {f"cp-payment-refund-{payment.id}"}
    assert len(stub.refunds) >= 1 and refunds[0]["fields"]["payment_intent"] == payment.stripe_payment_id
    assert payment.status == "failed" and payment.refunded_at and payment.stripe_refund_id.startswith("re_test_")
    assert not payment.needs_review and "refunded in full" in payment.review_note
    assert "payment.refunded" in actions_for(payment.id)
    alert = db.session.scalar(
        sa.select(Notification).where(
            Notification.event == "card_payment_not_counted", Notification.reference_id == payment.id
        )
    )
    assert alert is not None and "was refunded" in alert.message


def test_two_checkouts_the_replaced_one_completes_and_is_refunded_not_counted(app, stripe_stub, direct):
    first = start_checkout(app, direct)
    second = start_checkout(app, direct)
    # The first session was expired at Stripe before the second was created, and the replacement is audited.
    posts = [r["path"] for r in stripe_stub.requests if r["method"] == "POST"]
    assert posts == [
        "/v1/checkout/sessions",
        f"/v1/checkout/sessions/{first.stripe_checkout_session_id}/expire",
        "/v1/checkout/sessions",
    ]
    assert stripe_stub.sessions[first.stripe_checkout_session_id]["status"] == "expired"
    old = db.session.get(CpPayment, first.id)
    assert old.status == "failed" and old.review_note == payments.REPLACED_NOTE
    assert actions_for(first.id) == ["payment.started", "payment.replaced"]
    replaced = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "payment.replaced"))
    assert replaced.actor_id == direct["cp"].user.id

    # Stripe raced: the old session completed anyway. It is refunded, never counted; the fee is still owed.
    assert deliver(app, event(first)).status_code == 200
    assert counted(direct["tx_id"]) == []
    assert_refunded_once(stripe_stub, first)
    cp_page = login(app.test_client(), direct["cp"].user).get(f"/cp/commissions/{direct['tx_id']}")
    assert "outstanding" in cp_page.get_data(as_text=True) and "refunded in full" in cp_page.get_data(as_text=True)
    assert deliver(app, event(first)).status_code == 200  # a second delivery (new event id): no second refund
    assert len(stripe_stub.calls("POST", "/v1/refunds")) == 1

    # The live one completes and is the one counted.
    assert deliver(app, event(second)).json["processed"] is True
    (live,) = counted(direct["tx_id"])
    assert live.id == second.id
    admin_page = login(app.test_client(), direct["admin"]).get(f"/admin/commissions/{direct['tx_id']}")
    assert "collected" in admin_page.get_data(as_text=True) and "refunded" in admin_page.get_data(as_text=True)
    record("stripe_events", tried=1, held=1, stale_completions=1, refunds_requested=1)


def test_a_new_checkout_is_refused_while_stripe_says_the_earlier_one_is_paid(app, stripe_stub, direct):
    first = start_checkout(app, direct)
    stripe_stub.pay(first.stripe_checkout_session_id)  # paid at Stripe; its webhook is not here yet
    refused = pay_card(app, direct)
    assert refused.status_code == 409 and "earlier card payment is being processed" in refused.get_data(as_text=True)
    (still,) = payments_of(direct["tx_id"])
    assert still.status == "pending" and actions_for(first.id) == ["payment.started"]
    assert deliver(app, event(first)).status_code == 200
    assert [p.id for p in counted(direct["tx_id"])] == [first.id]
    assert stripe_stub.calls("POST", "/v1/refunds") == []
    record("stripe_events", tried=1, held=1)


def test_both_checkouts_complete_the_live_one_first_and_the_other_is_refunded(app, stripe_stub, direct):
    first = start_checkout(app, direct)
    second = start_checkout(app, direct)
    assert deliver(app, event(second)).status_code == 200
    assert deliver(app, event(first)).status_code == 200  # Stripe completed the expired session anyway
    (live,) = counted(direct["tx_id"])
    assert live.id == second.id
    assert_refunded_once(stripe_stub, first)
    assert "the fee had already been paid" in db.session.get(CpPayment, first.id).review_note
    assert payments.fee_owed(db.session.get(CommissionTransaction, direct["tx_id"])) is False
    record("stripe_events", tried=1, held=1, stale_completions=1, refunds_requested=1)


def test_a_card_completion_after_a_bank_transfer_was_confirmed_is_refunded(app, stripe_stub, direct):
    card = start_checkout(app, direct)
    cp = login(app.test_client(), direct["cp"].user)
    stripe_stub.fail = True  # Stripe unreachable: the bank transfer is still accepted, the card attempt replaced
    upload = {"receipt": (io.BytesIO(pdf_bytes()), "transfer.pdf")}
    url = f"/cp/commissions/{direct['tx_id']}/pay/bank-transfer"
    assert cp.post(url, data=upload, content_type="multipart/form-data").status_code == 303
    stripe_stub.fail = False
    bank = next(p for p in payments_of(direct["tx_id"]) if p.payment_method == "bank_transfer")
    assert db.session.get(CpPayment, card.id).review_note == payments.REPLACED_NOTE
    admin = login(app.test_client(), direct["admin"])
    review = f"/admin/commissions/payments/{bank.id}/review"
    assert admin.post(review, data={"decision": "confirm"}).status_code == 303

    assert deliver(app, event(card)).status_code == 200
    (live,) = counted(direct["tx_id"])
    assert live.id == bank.id
    assert_refunded_once(stripe_stub, card)
    record("stripe_events", tried=1, held=1, stale_completions=1, refunds_requested=1)


def test_a_failed_refund_is_flagged_for_an_admin_who_retries_it(app, stripe_stub, direct):
    first = start_checkout(app, direct)
    second = start_checkout(app, direct)
    assert deliver(app, event(second)).status_code == 200
    stripe_stub.fail_refunds = True
    assert deliver(app, event(first)).status_code == 200
    db.session.expire_all()
    flagged = db.session.get(CpPayment, first.id)
    assert flagged.status == "failed" and flagged.needs_review and flagged.refunded_at is None
    assert "payment.refund_failed" in actions_for(first.id)
    assert [p.id for p in counted(direct["tx_id"])] == [second.id]
    admin = login(app.test_client(), direct["admin"])
    listing = admin.get("/admin/commissions").get_data(as_text=True)
    assert "Card payments to refund" in listing and "Northwind Solutions" in listing
    detail = admin.get(f"/admin/commissions/{direct['tx_id']}").get_data(as_text=True)
    assert "Needs review" in detail and "Retry the refund" in detail

    retry = f"/admin/commissions/payments/{first.id}/refund"
    again = admin.post(retry)
    assert again.status_code == 409 and "Refund it in the Stripe dashboard" in again.get_data(as_text=True)
    assert db.session.get(CpPayment, first.id).needs_review
    stripe_stub.fail_refunds = False
    assert admin.post(retry).status_code == 303
    db.session.expire_all()
    done = db.session.get(CpPayment, first.id)
    assert not done.needs_review and done.refunded_at and done.stripe_refund_id
    refunded = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "payment.refunded", AuditEvent.entity_id == str(first.id))
    )
    assert refunded.actor_id == direct["admin"].id
    assert admin.post(retry).status_code == 409  # nothing left to refund
    assert "Card payments to refund" not in admin.get("/admin/commissions").get_data(as_text=True)
    record("stripe_events", tried=1, held=1, stale_completions=1, refunds_flagged=1)


@requires_postgres
def test_completions_racing_count_exactly_one(app, stripe_stub, direct):
    """The replaced session's completion and two deliveries of the live one's, at once: the row locks decide."""
    first = start_checkout(app, direct)
    second = start_checkout(app, direct)
    bodies = [event(first), event(second), event(second)]
    answers, barrier = [], threading.Barrier(len(bodies))

    def send(body):
        barrier.wait()
        answers.append(deliver(app, body).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200, 200, 200]
    assert [p.id for p in counted(direct["tx_id"])] == [second.id]
    assert actions_for(second.id).count("payment.completed") == 1
    assert_refunded_once(stripe_stub, first)
    record("stripe_events", tried=3, held=3, stale_completions=1, refunds_requested=1)
