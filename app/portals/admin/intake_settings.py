"""Admin intake settings (SPEC 9.2): the quality score's weights and the default origination credit."""

from flask import flash, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from app.leads import settings_ops
from app.portals.admin import bp
from app.web import htmx_redirect, render
from app.web.actions import run_action

_WEIGHT = [InputRequired("Enter a whole number from 0 to 100."), NumberRange(0, 100)]


class IntakeSettingsForm(FlaskForm):
    weight_required = IntegerField("Required fields (name, email, phone, required category fields)", validators=_WEIGHT)
    weight_additional = IntegerField("Additional fields (company, job title, industry, address …)", validators=_WEIGHT)
    weight_qualification = IntegerField("Qualification (lead type, budget, timeline)", validators=_WEIGHT)
    credit_on_approval = DecimalField(
        "Fixed credit when a lead is approved", places=2, validators=[InputRequired("Enter an amount (0 for none).")]
    )
    credit_percent_on_won = DecimalField(
        "Percent of the lead's value when it is won",
        places=2,
        validators=[InputRequired("Enter a percent (0 for none).")],
    )


def _page(form, status=200):
    return render("admin/intake/page.html", partial="admin/intake/partials/_form.html", form=form, status=status)


@bp.get("/intake")
def intake_settings():
    return _page(IntakeSettingsForm(formdata=None, obj=settings_ops.current()))


@bp.post("/intake")
def intake_settings_save():
    def save(form):
        weights = {name: form[name].data for name in settings_ops.WEIGHT_FIELDS}
        return settings_ops.update(
            current_user,
            weights=weights,
            credit_on_approval=form.credit_on_approval.data,
            credit_percent_on_won=form.credit_percent_on_won.data,
        )

    def reply(outcome):
        if not outcome.ok:
            return _page(outcome.form, outcome.status)
        flash("Intake settings saved. New weights apply to leads submitted from now on.", "success")
        return htmx_redirect(url_for("admin.intake_settings"))

    return run_action(IntakeSettingsForm(), save, reply)
