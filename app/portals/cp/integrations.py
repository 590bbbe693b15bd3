"""A partner's integrations (/cp/integrations): its API keys (owners and managers create and revoke them, viewers
read the list), how to call the API, and the way to the webhooks."""

from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.access import WORKERS, members
from app.accounts import api_keys
from app.portals.api_key_pages import EmptyForm, key_form, key_row, load_key, page_context, shown_once
from app.portals.cp import bp
from app.web import is_htmx_partial, render
from app.web.actions import run_action


def _page(status=200, form=None, created=None, message=None):
    keys = api_keys.keys_for(current_user.partner)
    return render(
        "cp/integrations/page.html",
        partial="cp/integrations/partials/_keys.html",
        status=status,
        keys=keys,
        creators=api_keys.creator_names(keys),
        form=form or key_form(formdata=None),
        created=created,
        message=message,
        **page_context(),
    )


@bp.get("/integrations")
def integrations():
    return _page()


@bp.post("/integrations/keys")
def integrations_key_create():
    """Create a key; the answer (the section for HTMX, else the whole page) shows its secret, this once."""
    form = key_form()

    def answer(outcome):
        if not outcome.ok:
            return _page(outcome.status, form=form, message=str(outcome.error or "Check the form."))
        key, secret = outcome.result
        return shown_once(_page(created={"key": key, "secret": secret}))

    return run_action(form, lambda f: api_keys.create(current_user, f.name.data, f.scopes.data), answer)


@bp.route("/integrations/keys/<key_id>/revoke", methods=["GET", "POST"])
@members(*WORKERS)
def integrations_key_revoke(key_id):
    """GET asks to confirm (the way without JavaScript: with it, the list's button asks and POSTs); POST revokes,
    answering the key's row to htmx."""
    key = load_key(key_id)
    if request.method == "GET":
        return render("_partials/api_keys/revoke.html", key=key, back=url_for("cp.integrations"))
    return run_action(EmptyForm(), lambda _f: api_keys.revoke(key, current_user), lambda o: revoked(o, key))


def revoked(outcome, key):
    if is_htmx_partial():
        return key_row(key, outcome, revoke_endpoint="cp.integrations_key_revoke", show_partner=False)
    if outcome.ok:
        flash(f"The key “{key.name}” is revoked: requests with it are refused from now on.", "success")
    else:
        flash(str(outcome.error), "danger")
    return redirect(url_for("cp.integrations"))
