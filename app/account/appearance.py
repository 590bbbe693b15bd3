"""/account/appearance: the colour theme switch (System, Light, Dark), remembered per user.

The switch in the user menu posts here. With htmx the answer is 204 with an HX-Trigger that static/js/theme.js
applies at once; without JavaScript the post redirects back to the page it came from, rendered in the new theme.
"""

import json
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired

from app.access import ANY_USER, roles
from app.account import bp
from app.accounts import appearance
from app.web import is_htmx, render
from app.web.actions import run_action

PAGE = "account/appearance/page.html"
FORM_PARTIAL = "account/appearance/partials/_form.html"
CHOOSE = "Choose System, Light or Dark."


class ThemeForm(FlaskForm):
    theme = RadioField(
        "Theme",
        choices=[SelectChoice(value, appearance.LABELS[value]) for value in appearance.THEMES],
        validate_choice=False,  # AnyOf says it in the page's words
        validators=[InputRequired(CHOOSE), AnyOf(appearance.THEMES, message=CHOOSE)],
    )
    next = HiddenField()


bp.add_app_template_global(appearance.current_theme, "current_theme")
bp.add_app_template_global(appearance.LABELS, "theme_labels")


def _back(target: str | None) -> str:
    """`target` when it is a path on this site (where the switch was used), else this page."""
    target = target or ""
    local = target.startswith("/") and target[1:2] not in ("/", "\\") and target.isprintable()
    if local and not urlsplit(target).netloc:
        return target
    return url_for("account.appearance")


def _answer(outcome):
    if not outcome.ok:
        return render(PAGE, partial=FORM_PARTIAL, status=outcome.status, form=outcome.form)
    theme = outcome.result.theme
    if is_htmx():
        return "", 204, {"HX-Trigger": json.dumps({"themeChanged": {"theme": theme}})}
    return redirect(_back(outcome.form.next.data), code=303)


@bp.route("/account/appearance", methods=["GET", "POST"], endpoint="appearance")
@roles(*ANY_USER)
def appearance_page():
    form = ThemeForm(theme=current_user.theme)
    if request.method == "GET":
        return render(PAGE, partial=FORM_PARTIAL, form=form)
    user = current_user._get_current_object()
    return run_action(form, lambda f: appearance.set_theme(user, f.theme.data, actor=user), _answer)
