"""/webhooks/twilio/sms: the messages people send back to our Twilio number. STOP (and Twilio's other opt-out
words) turns their text messages off, START turns them on again (SPEC 9.5: STOP honoured). Authenticated by
Twilio's signature (X-Twilio-Signature, HMAC of the URL and the fields with TWILIO_AUTH_TOKEN), not a session."""

from flask import current_app, request
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from app.access import public
from app.comms import sms
from app.extensions import csrf, db
from app.webhooks.blueprint import bp


def _signed_by_twilio() -> bool:
    """The signature checks out for the URL Twilio called: as this request sees it (behind TRUSTED_PROXIES it is
    the public one), or as PUBLIC_BASE_URL names the app."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature")
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    query = request.query_string.decode()
    public_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.path + (f"?{query}" if query else "")
    return any(validator.validate(url, request.form, signature, algorithm) for url in {request.url, public_url})


@bp.post("/webhooks/twilio/sms", endpoint="twilio_sms")
@public
@csrf.exempt
def twilio_sms():
    """An inbound SMS: 403 unless Twilio signed it; else the opt-out or opt-in it asks for, and empty TwiML (no
    reply from us: Twilio sends its own confirmation of STOP and START)."""
    if not _signed_by_twilio():
        current_app.logger.warning("twilio webhook refused: bad or missing signature")
        return "Invalid signature.", 403, {"Content-Type": "text/plain; charset=utf-8"}
    outcome = sms.handle_reply(request.form.get("From", ""), request.form.get("Body", ""))
    db.session.commit()
    current_app.logger.info("twilio inbound sms from %s: %s", sms.mask(request.form.get("From")), outcome or "ignored")
    return str(MessagingResponse()), 200, {"Content-Type": "text/xml; charset=utf-8"}
