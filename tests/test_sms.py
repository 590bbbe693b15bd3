"""SMS as a notification channel (issue 19 item 7): a person opts in with a mobile number and picks events; notify()
texts them through the console backend or Twilio's real client (against a local stub); STOP replies and Twilio's
error 21610 opt them out; the send job is safe to run twice."""

import base64
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.comms import notifications, sms
from app.extensions import db
from app.jobs import sms as sms_jobs
from app.jobs.outbox import CLAIM_LEASE, OutboxBusy
from app.models import AuditEvent, SmsOutbox, User
from app.models.base import utcnow
from tests import factories, twilio_support
from tests.conftest import login
from tests.twilio_support import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, signed

twilio_stub = twilio_support.twilio_stub  # fixture

PHONE = "+14155550123"
HTMX = {"HX-Request": "true"}


def texter(phone=PHONE, events=("lead_assigned",), **kw) -> User:
    """A partner's owner who opted in to texts for `events`."""
    user = factories.make_partner().user
    user.phone, user.sms_opt_in, user.sms_events = phone, True, list(events)
    for name, value in kw.items():
        setattr(user, name, value)
    db.session.commit()
    return user


def assign(user, title="Roof repair"):
    """The lead_assigned notification, as the pipeline sends it; committed (its jobs run in-process here)."""
    notifications.notify([user], "lead_assigned", link="/cp/leads/assigned", title=title)
    db.session.commit()


def outbox() -> list[SmsOutbox]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(SmsOutbox).order_by(SmsOutbox.created_at)))


def waiting_row(user, **values) -> SmsOutbox:
    """An outbox row whose job has not run (the test runs it)."""
    row = SmsOutbox(user_id=user.id, to_phone=user.phone, body="Waiting", **{"status": "queued", **values})
    db.session.add(row)
    db.session.commit()
    return row


def audit_actions(user) -> list[str]:
    stmt = sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id)).order_by(AuditEvent.created_at)
    return list(db.session.scalars(stmt))


# --- sending -------------------------------------------------------------------------------------


def test_the_console_backend_logs_the_text_with_the_number_masked(app, caplog):
    user = texter()
    with caplog.at_level(logging.INFO, logger="app.comms.sms"):
        assign(user)
    [row] = outbox()
    assert row.status == "sent" and row.to_phone == PHONE and row.provider_id is None
    assert row.body.startswith("LeadFlow PM: A new lead 'Roof repair' has been assigned to you.")
    assert row.body.endswith("/cp/leads/assigned") and row.notification_id is not None
    logged = [r.getMessage() for r in caplog.records if r.name == "app.comms.sms"]
    assert logged == [f"sms to {sms.mask(PHONE)}: {row.body}"]
    assert PHONE not in logged[0] and sms.mask(PHONE) == "+1********23"


def test_twilio_sends_through_its_real_client(app, twilio_stub):
    user = texter()
    assign(user)
    [row] = outbox()
    [call] = twilio_stub.requests
    assert call["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert call["fields"] == {"To": PHONE, "From": FROM_NUMBER, "Body": row.body}
    assert call["auth"] == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert row.status == "sent" and row.provider_id.startswith("SM") and row.sent_at is not None


def test_only_the_events_chosen_reach_only_those_who_opted_in_with_a_number(app):
    chosen = texter(events=("lead_assigned",))
    other_event = texter(phone="+14155550124", events=("announcement",))
    not_opted = texter(phone="+14155550125", sms_opt_in=False)
    stopped = texter(phone="+14155550126", sms_opted_out_at=utcnow())
    no_number = texter(phone=None)
    for user in (chosen, other_event, not_opted, stopped, no_number):
        assign(user)
    assert [row.user_id for row in outbox()] == [chosen.id]
    notifications.notify([other_event], "announcement", title="News", email=False)
    db.session.commit()
    assert [row.user_id for row in outbox()] == [chosen.id, other_event.id]


# --- preferences ---------------------------------------------------------------------------------


def test_a_person_sets_a_number_opts_in_and_picks_events_on_the_preferences_page(app):
    user = factories.make_partner().user
    db.session.commit()
    client = login(app.test_client(), user)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Mobile number" in page and "Send me text messages (SMS)" in page
    assert "Text me: Lead assigned to you" in page and "Text me: New channel partner awaiting approval" not in page

    answer = client.post(
        "/notifications/preferences",
        data={"phone": " (415) 555-0123 ", "sms_opt_in": "y", "sms_lead_assigned": "y", "lead_assigned": "y"},
    )
    assert answer.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.phone, user.sms_opt_in, user.sms_events) == (PHONE, True, ["lead_assigned"])
    assert "lead_assigned" not in user.email_muted_events and "announcement" in user.email_muted_events
    assert audit_actions(user) == ["sms.opted_in"]
    assert 'value="+14155550123"' in client.get("/notifications/preferences").get_data(as_text=True)

    client.post("/notifications/preferences", data={"phone": PHONE, "sms_lead_assigned": "y"})
    db.session.expire_all()
    assert db.session.get(User, user.id).sms_opt_in is False and audit_actions(user)[-1] == "sms.opted_out"


def test_opting_in_needs_a_valid_number_shown_beside_the_field(app):
    user = factories.make_partner().user
    db.session.commit()
    client = login(app.test_client(), user)
    for phone, message in (("", "Give a mobile number"), ("12", "with its country code")):
        answer = client.post("/notifications/preferences", data={"phone": phone, "sms_opt_in": "y"})
        body = answer.get_data(as_text=True)
        assert answer.status_code == 422 and 'id="phone-error"' in body and message in body
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.phone, user.sms_opt_in) == (None, False) and audit_actions(user) == []


def test_opting_in_again_on_the_page_clears_an_earlier_stop(app):
    user = texter(sms_opt_in=False, sms_opted_out_at=utcnow())
    client = login(app.test_client(), user)
    assert "You replied STOP" in client.get("/notifications/preferences").get_data(as_text=True)
    client.post("/notifications/preferences", data={"phone": PHONE, "sms_opt_in": "y", "sms_lead_assigned": "y"})
    db.session.expire_all()
    assert db.session.get(User, user.id).sms_opted_out_at is None
    assign(db.session.get(User, user.id))
    assert len(outbox()) == 1


# --- STOP and START -------------------------------------------------------------------------------


def post_reply(client, body, phone=PHONE, headers=None):
    fields = {"From": phone, "To": FROM_NUMBER, "Body": body, "MessageSid": "SM" + "1" * 32}
    return client.post("/webhooks/twilio/sms", data=fields, headers=signed(fields) if headers is None else headers)


def test_a_signed_stop_reply_opts_out_and_start_opts_in_again(app, twilio_stub):
    user = texter()
    twin = texter(phone=PHONE)  # a second login with the same number: STOP is per number
    bystander = texter(phone="+14155550199")
    client = app.test_client()
    answer = post_reply(client, " stop ")
    assert answer.status_code == 200 and answer.mimetype == "text/xml"
    assert answer.get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    db.session.expire_all()
    for person in (user, twin):
        person = db.session.get(User, person.id)
        assert person.sms_opt_in is False and person.sms_opted_out_at is not None
        assert audit_actions(person) == ["sms.opted_out"]
    assert db.session.get(User, bystander.id).sms_opt_in is True
    assign(db.session.get(User, user.id))
    assert outbox() == [] and twilio_stub.requests == []

    assert post_reply(client, "Hello there").status_code == 200  # not a keyword: nothing changes
    assert db.session.get(User, user.id).sms_opt_in is False
    assert post_reply(client, "START").status_code == 200
    db.session.expire_all()
    person = db.session.get(User, user.id)
    assert person.sms_opt_in is True and person.sms_opted_out_at is None and person.sms_events == ["lead_assigned"]
    assert audit_actions(person) == ["sms.opted_out", "sms.opted_in"]


@pytest.mark.parametrize("word", sorted(sms.STOP_WORDS))
def test_every_opt_out_word_is_honoured(app, twilio_stub, word):
    user = texter()
    assert post_reply(app.test_client(), word.lower()).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, user.id).sms_opt_in is False


def test_a_reply_without_a_valid_signature_is_refused_and_changes_nothing(app, twilio_stub):
    user = texter()
    client = app.test_client()
    fields = {"From": PHONE, "To": FROM_NUMBER, "Body": "STOP"}
    forged = signed(fields, token="not-the-auth-token")
    other_url = signed(fields, url="https://attacker.example/webhooks/twilio/sms")
    tampered = signed({**fields, "Body": "HELLO"})
    for headers in ({}, forged, other_url, tampered, {"X-Twilio-Signature": ""}):
        assert post_reply(client, "STOP", headers=headers).status_code == 403
    db.session.expire_all()
    assert db.session.get(User, user.id).sms_opt_in is True and audit_actions(user) == []


def test_without_an_auth_token_no_reply_is_accepted(app, twilio_stub):
    user = texter()
    app.config["TWILIO_AUTH_TOKEN"] = None
    assert post_reply(app.test_client(), "STOP").status_code == 403
    db.session.expire_all()
    assert db.session.get(User, user.id).sms_opt_in is True


# --- the job --------------------------------------------------------------------------------------


def test_error_21610_opts_the_recipient_out_and_skips_the_row(app, twilio_stub):
    user = texter()
    twilio_stub.fail_with = sms.UNSUBSCRIBED
    assign(user)  # the in-process job meets the error; nothing is raised to the request
    [row] = outbox()
    assert row.status == "skipped" and "21610" in row.last_error and row.attempts == 1
    person = db.session.get(User, user.id)
    assert person.sms_opt_in is False and person.sms_opted_out_at is not None
    assert audit_actions(person) == ["sms.opted_out"]
    assert sms_jobs.send_sms(str(row.id)) == "skipped" and len(twilio_stub.requests) == 1  # never retried


def test_the_job_run_twice_sends_once(app, twilio_stub):
    user = texter()
    assign(user)
    [row] = outbox()
    assert row.status == "sent" and len(twilio_stub.requests) == 1
    assert sms_jobs.send_sms(str(row.id)) == "skipped"
    assert sms_jobs.send_sms(str(row.id)) == "skipped"
    assert len(twilio_stub.requests) == 1 and outbox()[0].attempts == 1


def test_a_claim_held_by_another_job_waits_and_a_dead_senders_claim_is_taken_over(app, twilio_stub):
    user = texter()
    row = waiting_row(user, status="sending", claimed_at=utcnow(), claimed_by="another-job")
    with pytest.raises(OutboxBusy):
        sms_jobs.send_sms(str(row.id))
    assert twilio_stub.requests == []
    row = outbox()[0]
    row.claimed_at = utcnow() - CLAIM_LEASE - timedelta(seconds=1)  # its sender died
    db.session.commit()
    assert sms_jobs.send_sms(str(row.id)) == "sent" and len(twilio_stub.requests) == 1


def test_a_failure_is_retried_and_the_sweeper_sends_what_was_stranded(app, twilio_stub):
    user = texter()
    twilio_stub.fail_with = 30003  # unreachable handset: a failure worth retrying
    assign(user)  # the in-process job fails (logged); the row says so
    [row] = outbox()
    assert row.status == "failed" and "30003" in row.last_error
    with pytest.raises(Exception, match="30003"):
        sms_jobs.send_sms(str(row.id))
    twilio_stub.fail_with = None
    assert sms_jobs.requeue_stranded(utcnow() - timedelta(minutes=5)) == 0  # too recent: its retry comes first
    assert sms_jobs.requeue_stranded(utcnow() + timedelta(seconds=1)) == 1
    row = outbox()[0]
    assert row.status == "sent" and row.attempts == 3 and len(twilio_stub.requests) == 3


def test_someone_who_stops_after_the_text_was_queued_is_not_texted(app, twilio_stub):
    user = texter()
    row = waiting_row(user)
    post_reply(app.test_client(), "STOP")
    assert sms_jobs.send_sms(str(row.id)) == "skipped"
    assert outbox()[0].status == "skipped" and twilio_stub.requests == []


def test_the_sweeper_sends_a_text_whose_job_never_ran(app, twilio_stub):
    """Redis was down when the row was queued: app.jobs.tasks.requeue_stranded hands it on (here, in-process)."""
    from app.jobs import tasks

    row = waiting_row(texter())
    assert tasks.requeue_stranded(grace_seconds=0)["sms"] == 1
    assert outbox()[0].status == "sent" and len(twilio_stub.requests) == 1 and outbox()[0].id == row.id
    assert tasks.requeue_stranded(grace_seconds=0)["sms"] == 0
