"""/account/timezone: the zone a person's pages show times in (app.web.times), chosen from the IANA list. Until a
zone is saved, times are shown in UTC and the picker proposes the browser's own zone (static/js/timezone.js)."""

from flask import request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.access import ANY_USER, roles
from app.account import bp
from app.accounts import timezones
from app.models.base import utcnow
from app.web import render
from app.web.actions import run_action
from app.web.times import localtime, zone_names

PAGE = "account/timezone/page.html"
FORM_PARTIAL = "account/timezone/partials/_form.html"


class TimezoneForm(FlaskForm):
    timezone = SelectField(
        "Timezone",
        choices=lambda: [SelectChoice(name, name.replace("_", " ")) for name in zone_names()],
        validate_choice=False,  # set_timezone says it in the page's words
        validators=[InputRequired(timezones.CHOOSE)],
    )


def _page(form, status: int = 200, saved: bool = False):
    chosen = current_user.timezone
    return render(
        PAGE,
        partial=FORM_PARTIAL,
        status=status,
        form=form,
        chosen=chosen,
        saved=saved,
        now=localtime(utcnow(), "%d %b %Y %H:%M", zone_name=chosen or "UTC"),
    )


@bp.route("/account/timezone", methods=["GET", "POST"], endpoint="timezone")
@roles(*ANY_USER)
def timezone_page():
    form = TimezoneForm(timezone=current_user.timezone or "UTC")
    if request.method == "GET":
        return _page(form)
    user = current_user._get_current_object()
    return run_action(
        form,
        lambda f: timezones.set_timezone(user, f.timezone.data, actor=user),
        lambda outcome: _page(outcome.form, status=outcome.status, saved=outcome.ok),
    )
