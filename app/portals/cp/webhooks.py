"""A partner's webhooks (/cp/integrations/webhooks, SPEC 9.5): its endpoints, their signing secrets and the log of
their deliveries with "send test" and "redeliver". Every member reads; owners and managers change things (the
portal's default for POSTs) and alone see a secret."""

from datetime import datetime, timedelta

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, URLField
from wtforms.validators import DataRequired, Length, Optional

from app.access import WORKERS, members
from app.comms import webhooks
from app.idempotency import IdempotentForm
from app.loaders import get_or_404
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.models.webhooks import DELIVERY_STATUSES, WEBHOOK_EVENTS
from app.portals.cp import bp
from app.web import htmx_redirect, is_htmx_partial, render
from app.web.actions import run_action


class EndpointForm(FlaskForm):
    url = URLField("URL", validators=[DataRequired("Enter the URL to post the events to."), Length(max=500)])
    description = StringField("Description", validators=[Optional(), Length(max=webhooks.MAX_DESCRIPTION)])
    events = SelectMultipleField(
        "Events", choices=list(WEBHOOK_EVENTS.items()), validators=[DataRequired("Choose at least one event.")]
    )
    is_active = BooleanField("Active: send events to this URL", default=True)


class NewEndpointForm(IdempotentForm, EndpointForm):
    """Adding an endpoint: sent twice, it adds one."""


class EmptyForm(FlaskForm):
    pass


class DeleteForm(FlaskForm):
    confirm = BooleanField(
        "Delete it with its delivery log: this cannot be undone", validators=[DataRequired("Tick the box to confirm.")]
    )


def load_endpoint(endpoint_id) -> WebhookEndpoint:
    """An endpoint of the current user's partner, else 404."""
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    if endpoint.partner_id != current_user.partner.id:
        abort(404)
    return endpoint


def _save(form, endpoint=None):
    data = (form.url.data, form.description.data, form.events.data, form.is_active.data)
    if endpoint is None:
        return webhooks.create_endpoint(current_user, *data)
    return webhooks.update_endpoint(endpoint, current_user, *data)


def _list(status=200, form=None):
    endpoints = webhooks.endpoints_of(current_user.partner)
    return render(
        "cp/webhooks/page.html",
        partial="cp/webhooks/partials/_list.html",
        status=status,
        endpoints=endpoints,
        counts=webhooks.recent_counts(endpoints),
        form=form or NewEndpointForm(formdata=None),
        days=webhooks.STATS_DAYS,
    )


def _log_filter() -> tuple[str | None, datetime | None]:
    status = request.args.get("status") or None
    try:
        before = datetime.fromisoformat(request.args["before"]) if request.args.get("before") else None
    except ValueError:
        before = None
    return (status if status in DELIVERY_STATUSES else None), before


def _detail(endpoint, partial=None, status=200, form=None, secret=None, message=None):
    """The endpoint's page, or one of its sections for HTMX: settings, secret or delivery log."""
    log_status, before = _log_filter()
    rows, more = webhooks.delivery_log(endpoint, log_status, before)
    if form is None:
        form = EndpointForm(formdata=None, obj=endpoint)
    return render(
        "cp/webhooks/detail.html",
        partial=partial,
        status=status,
        endpoint=endpoint,
        form=form,
        secret=secret,
        message=message,
        rows=rows,
        more=more,
        log_status=log_status,
        statuses=DELIVERY_STATUSES,
        poll=_in_flight(rows),
        recipe=webhooks.VERIFY_RECIPE,
        timeout=int(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]),
    )


def _in_flight(rows) -> bool:
    """Whether the log should refresh itself: a delivery is being sent or is due within the minute."""
    soon = utcnow() + timedelta(minutes=1)
    return any(
        d.status == "sending" or (d.status == "pending" and (d.next_attempt_at is None or d.next_attempt_at <= soon))
        for d, _attempts in rows
    )


@bp.get("/integrations/webhooks", endpoint="webhooks")
def webhooks_page():
    return _list()


@bp.post("/integrations/webhooks/new")
def webhook_new():
    form = NewEndpointForm()

    def answer(outcome):
        if not outcome.ok:
            return _list(outcome.status, form=form)
        flash("Webhook added. Show its secret below to set up the signature check on your server.", "success")
        return htmx_redirect(url_for("cp.webhook_detail", endpoint_id=outcome.result.id))

    return run_action(form, _save, answer)


@bp.get("/integrations/webhooks/<endpoint_id>")
def webhook_detail(endpoint_id):
    return _detail(load_endpoint(endpoint_id))


@bp.post("/integrations/webhooks/<endpoint_id>")
def webhook_edit(endpoint_id):
    endpoint = load_endpoint(endpoint_id)
    form = EndpointForm()

    def answer(outcome):
        if outcome.ok and not is_htmx_partial():
            flash("Webhook saved.", "success")
            return redirect(url_for("cp.webhook_detail", endpoint_id=endpoint.id))
        message = "Webhook saved." if outcome.ok else None
        return _detail(endpoint, "cp/webhooks/partials/_settings.html", outcome.status, form=form, message=message)

    return run_action(form, lambda f: _save(f, endpoint), answer)


@bp.route("/integrations/webhooks/<endpoint_id>/delete", methods=["GET", "POST"])
@members(*WORKERS)
def webhook_delete(endpoint_id):
    """GET asks to confirm (without JavaScript; htmx asks with hx-confirm and POSTs)."""
    endpoint = load_endpoint(endpoint_id)
    form = DeleteForm(formdata=None) if request.method == "GET" else DeleteForm()
    if request.method == "GET":
        return render("cp/webhooks/confirm.html", endpoint=endpoint, action="delete", form=form)
    url = endpoint.url

    def answer(outcome):
        if outcome.ok:
            flash(f"The webhook to {url} is deleted, with its delivery log.", "success")
            return htmx_redirect(url_for("cp.webhooks"))
        if is_htmx_partial():
            message = str(outcome.error or "Confirm the deletion.")
            return _detail(endpoint, "cp/webhooks/partials/_settings.html", outcome.status, message=message)
        return render("cp/webhooks/confirm.html", status=outcome.status, endpoint=endpoint, action="delete", form=form)

    return run_action(form, lambda _f: webhooks.delete_endpoint(endpoint, current_user), answer)


def _secret_answer(endpoint, outcome, message: str):
    """The secret's section (or the whole page without HTMX), never cached."""
    secret = outcome.result if outcome.ok else None
    text = message if outcome.ok else str(outcome.error or "Reload the page and try again.")
    response = _detail(endpoint, "cp/webhooks/partials/_secret.html", outcome.status, secret=secret, message=text)
    response.headers["Cache-Control"] = "no-store"
    g.idempotency_private_answer = True  # a twin gets the page back: the secret is never stored as an answer
    return response


@bp.post("/integrations/webhooks/<endpoint_id>/secret")
def webhook_secret(endpoint_id):
    endpoint = load_endpoint(endpoint_id)
    return run_action(
        EmptyForm(),
        lambda _f: webhooks.reveal_secret(endpoint, current_user),
        lambda o: _secret_answer(endpoint, o, "Keep it on your server only; each showing is recorded."),
    )


@bp.route("/integrations/webhooks/<endpoint_id>/rotate", methods=["GET", "POST"])
@members(*WORKERS)
def webhook_rotate(endpoint_id):
    endpoint = load_endpoint(endpoint_id)
    if request.method == "GET":
        return render("cp/webhooks/confirm.html", endpoint=endpoint, action="rotate")
    return run_action(
        EmptyForm(),
        lambda _f: webhooks.rotate_secret(endpoint, current_user),
        lambda o: _secret_answer(endpoint, o, "New secret made: the old one no longer verifies. Update your server."),
    )


def _log_answer(endpoint, outcome, success: str):
    if outcome.ok and not is_htmx_partial():
        flash(success, "success")
        return redirect(url_for("cp.webhook_detail", endpoint_id=endpoint.id) + "#webhook-log")
    message = success if outcome.ok else str(outcome.error or "Reload the page and try again.")
    return _detail(endpoint, "cp/webhooks/partials/_log.html", outcome.status, message=message)


@bp.post("/integrations/webhooks/<endpoint_id>/test")
def webhook_test(endpoint_id):
    endpoint = load_endpoint(endpoint_id)
    return run_action(
        EmptyForm(),
        lambda _f: webhooks.send_test(endpoint, current_user),
        lambda o: _log_answer(endpoint, o, "Test event sent: its answer shows in the log."),
    )


@bp.get("/integrations/webhooks/<endpoint_id>/deliveries")
def webhook_deliveries(endpoint_id):
    """The delivery log: the section for HTMX (filter, older page, the refresh while something is pending)."""
    return _detail(load_endpoint(endpoint_id), "cp/webhooks/partials/_log.html")


@bp.post("/integrations/webhooks/<endpoint_id>/deliveries/<delivery_id>/redeliver")
def webhook_redeliver(endpoint_id, delivery_id):
    endpoint = load_endpoint(endpoint_id)
    delivery = get_or_404(WebhookDelivery, delivery_id)
    if delivery.endpoint_id != endpoint.id:
        abort(404)
    return run_action(
        EmptyForm(),
        lambda _f: webhooks.redeliver(delivery, current_user),
        lambda o: _log_answer(endpoint, o, f"Sending {delivery.event} again."),
    )
