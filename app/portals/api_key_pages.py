"""What the two API-key pages share (/cp/integrations for a partner's own keys, /admin/api-keys for every key):
the form that creates a key, the answer that shows its secret once, and the key a page may act on."""

from flask import abort, g, make_response, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts import api_keys
from app.idempotency import IdempotentForm
from app.loaders import parse_uuid

NAME_HELP = "Something to tell it apart later, such as the program or server that uses it."


class KeyForm(IdempotentForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    scopes = SelectMultipleField(
        "What it may do", choices=[], validate_choice=True, validators=[DataRequired("Choose at least one scope.")]
    )


class EmptyForm(FlaskForm):
    pass


def key_form(form_class=KeyForm, **kwargs):
    """A key form offering the scopes the current user may grant (staff: every one, incl. the trusted one)."""
    form = form_class(**kwargs)
    form.scopes.choices = list(api_keys.offered_scopes(current_user).items())
    return form


def load_key(key_id):
    """A key the current user may see (staff: any; a partner's member: its partner's), else 404."""
    key = api_keys.visible_key(current_user, parse_uuid(key_id))
    if key is None:
        abort(404)
    return key


def shown_once(response):
    """The answer carrying a new key's secret: never cached, and never stored as the idempotency key's answer (the
    secret is kept only as a hash): a form sent twice is sent back to the page, where the key shows without it."""
    g.idempotency_private_answer = True
    response.headers["Cache-Control"] = "no-store"
    return response


def key_row(key, outcome, **table):
    """A key's row of the list, after an action on it (htmx swaps it in place), with the refusal if there was one."""
    body = render_template(
        "_partials/api_keys/_row.html",
        key=key,
        creators=api_keys.creator_names([key]),
        may_revoke=True,
        error=None if outcome.ok else str(outcome.error),
        **table,
    )
    return make_response(body, outcome.status)


def page_context() -> dict:
    """What both pages show around the form: the name's help, the API's base URL and its reference."""
    return {
        "name_help": NAME_HELP,
        "api_base": url_for("api_auth.me", _external=True).removesuffix("/auth/me"),
        "docs_url": url_for("api_reference.docs"),
    }
