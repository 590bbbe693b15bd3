"""The public pages (no login): the request form of each category with its double opt-in, and referral links.

Every route is @public. Abuse is answered with a 4xx and a message, never a 500: bodies over 64 KB (413),
too many requests per client address or per email (429 with Retry-After), a filled honeypot (400).
"""

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from app.access import public
from app.errors import Refused
from app.extensions import db
from app.leads import confirmation, referrals
from app.models import Category
from app.portals.intake_forms import lead_form
from app.web import ratelimit, render
from app.web.actions import run_action

bp = Blueprint("public", __name__)

FORM_BODY_LIMIT = 64 * 1024
RATE_PREFIX = "public-form"
EMAIL_REQUIRED = "Your email is required: the link that confirms your request is sent there."
CONFIRM_STATUS = {"confirmed": 200, "already": 200, "expired": 410, "invalid": 404}


class TooManyRequests(Refused):
    status = 429

    def __init__(self, verdict):
        super().__init__("Too many requests for this email address.")
        self.verdict = verdict


@bp.url_value_preprocessor
def limit_form_body(endpoint, _values):
    """The form's 64 KB limit. Set here because URL preprocessors run before every before_request hook, and the
    app's NUL guard reads (parses) the form in one of those: a larger body is refused before it is parsed."""
    if endpoint == "public.request_form" and request.method == "POST":
        request.max_content_length = FORM_BODY_LIMIT


@bp.errorhandler(413)
def body_too_large(_error):
    kb = FORM_BODY_LIMIT // 1024
    return render("public/message.html", partial="public/partials/_message.html", status=413,
                  heading="Your request is too large", detail=f"Keep what you send under {kb} KB and try again.")  # fmt: skip


def public_categories() -> list[Category]:
    query = db.select(Category).where(Category.is_active.is_(True), Category.accepts_public_requests.is_(True))
    return list(db.session.scalars(query.order_by(Category.sort_order, Category.name)))


def request_form_for(category: Category):
    form = lead_form(
        category,
        base=FlaskForm,
        website=StringField("Website (leave this empty)", render_kw={"tabindex": "-1", "autocomplete": "off"}),
    )
    form.contact_email.label.text = "Email (required)"
    return form


def _validate(form) -> bool:
    """The lead validator, and an email (a phone alone is not enough here: the confirmation goes by email)."""
    ok = form.validate()
    if not (form.contact_email.data or "").strip():
        form.contact_email.errors = [EMAIL_REQUIRED]
        return False
    return ok


def _form_page(category, form, status=200, error=None):
    return render("public/request/form.html", partial="public/request/partials/_form.html",
                  category=category, form=form, status=status, error=error)  # fmt: skip


def _too_many(verdict, category):
    return ratelimit.too_many(verdict, "public/request/too_many.html", "public/request/partials/_too_many.html",
                              category=category)  # fmt: skip


@bp.get("/request")
@public
def request_index():
    return render("public/request/index.html", categories=public_categories())


@bp.route("/request/<slug>", methods=["GET", "POST"])
@public
def request_form(slug):
    category = referrals.public_category(slug) or abort(404)
    form = request_form_for(category)
    if not form.is_submitted():
        return _form_page(category, form)
    verdict = ratelimit.hit(ratelimit.address_bucket("PUBLIC_FORM_RATE_LIMIT", RATE_PREFIX))
    if not verdict.allowed:
        return _too_many(verdict, category)
    if form.website.data:
        return render("public/message.html", partial="public/partials/_message.html", status=400,
                      heading="Your request was not sent", detail="Leave the “Website” field empty and try again.")  # fmt: skip
    visit = referrals.visit_from_cookie(request.cookies.get(referrals.COOKIE))

    def submit(f):
        email = f.cleaned.columns["email_normalized"]
        per_email = ratelimit.hit(ratelimit.value_bucket("PUBLIC_FORM_EMAIL_RATE_LIMIT", RATE_PREFIX, email))
        if not per_email.allowed:
            raise TooManyRequests(per_email)
        lead = referrals.submit_request(f.lead_data(), category, visit)
        # What the answer shows, read before the commit expires the rows (no queries after it).
        return {"email": lead.contact_email, "category": {"name": category.name, "slug": category.slug}}

    def reply(outcome):
        if outcome.ok:
            return render("public/request/sent.html", partial="public/request/partials/_sent.html",
                          **outcome.result)  # fmt: skip
        if isinstance(outcome.error, TooManyRequests):
            return _too_many(outcome.error.verdict, category)
        return _form_page(category, form, outcome.status, str(outcome.error) if outcome.error else None)

    return run_action(form, submit, reply, validate=lambda: _validate(form))


@bp.get("/request/confirm/<token>")
@public
def confirm(token):
    """The double opt-in link (app/leads/confirmation: confirming on GET, idempotent)."""
    outcome, _lead = confirmation.redeem(token)
    if outcome == "confirmed":
        db.session.commit()
    return render("public/confirm.html", outcome=outcome, status=CONFIRM_STATUS[outcome])


@bp.get("/r/<code>")
@public
def referral(code):
    """A partner's referral link: the visit is recorded and remembered in a signed cookie for 30 days.

    Counts cannot be inflated by reloading: a browser already carrying this partner's visit keeps it, and each
    client address records at most REFERRAL_VISIT_RATE_LIMIT visits (beyond it the link still works, uncounted).
    """
    partner = referrals.partner_for_code(code) or abort(404)
    category = referrals.public_category(request.args.get("category"))
    target = url_for("public.request_form", slug=category.slug) if category else url_for("public.request_index")
    response = redirect(target, 303)
    known = referrals.visit_from_cookie(request.cookies.get(referrals.COOKIE))
    if known is not None and known.partner_id == partner.id:
        return response
    if not ratelimit.hit(ratelimit.address_bucket("REFERRAL_VISIT_RATE_LIMIT", "referral")).allowed:
        return response
    visit = referrals.record_visit(partner, request.args, request.referrer, category)
    db.session.commit()
    response.set_cookie(
        referrals.COOKIE,
        referrals.cookie_value(visit),
        max_age=int(referrals.WINDOW.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


from app.portals.public import pwa  # noqa: E402

pwa.register(bp)  # the web manifest, /sw.js and the offline page
