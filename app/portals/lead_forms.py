"""Forms for leads, shared by the CP and admin portals.

Forms that act on one lead carry a prefix made from its id, so a list page with many rows (each
with its own stage, money, note and evidence forms) has unique field ids and labels.
"""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.leads import pipeline
from app.models.leads import STAGE_LABELS, STAGES

STAGE_CHOICES = [(stage, STAGE_LABELS[stage]) for stage in STAGES]
OVERRIDE_CHOICES = [
    ("", "No override (global rule)"),
    ("percentage", "Percentage of commission"),
    ("fixed", "Fixed amount"),
]


def prefix_for(lead) -> str:
    return f"l{lead.id.hex[:12]}"


def money(form, field):
    """WTForms validator around pipeline.parse_money: the same rules the service enforces."""
    try:
        field.amount = pipeline.parse_money(field.data, field.name)
    except pipeline.PipelineError as exc:
        raise ValidationError(str(exc)) from None


class VersionedForm(FlaskForm):
    version = HiddenField(validators=[DataRequired("Reload the page and try again.")])


class StageForm(VersionedForm):
    stage = SelectField("Stage", choices=STAGE_CHOICES)
    lost_reason = TextAreaField("Reason the lead was lost", validators=[Length(max=pipeline.MAX_REASON)])


class AmountsForm(VersionedForm):
    lead_value = StringField("Lead value", validators=[money])
    commission_amount = StringField("Commission amount", validators=[money])


class OverrideFields:
    """The per-lead platform fee override (type and value), parsed into `parsed` when the form validates."""

    override_type = SelectField("Platform fee override", choices=OVERRIDE_CHOICES)
    override_value = StringField("Override value (% or $)")

    def validate_override_value(self, field):
        try:
            self.parsed = pipeline.parse_override(self.override_type.data, field.data)
        except pipeline.PipelineError as exc:
            raise ValidationError(str(exc)) from None


class OverrideForm(OverrideFields, VersionedForm):
    pass


class NoteForm(IdempotentForm):
    body = TextAreaField("Note", validators=[DataRequired("Write the note first."), Length(max=pipeline.MAX_NOTE)])


class EvidenceForm(IdempotentForm):
    file = DirectFileField("Evidence file (image, PDF or document)", kind="evidence")
    description = StringField("Description (optional)", validators=[Length(max=300)])


class AllocateForm(OverrideFields, FlaskForm):
    version = HiddenField()
    partner = SelectField("Channel partner", validators=[DataRequired("Choose a channel partner.")])


class LeadCreateExtras(OverrideFields):
    """What an admin sets besides the lead's data when entering it: title, category, money, allocation."""

    title = StringField("Title (optional: name · company)", validators=[Length(max=200)])
    category = SelectField("Category", validators=[Optional()])
    lead_value = StringField("Lead value", validators=[money])
    commission_amount = StringField("Commission amount", validators=[money])
    partner = SelectField("Allocate to (optional)", validators=[Optional()])


class AdminLeadForm(LeadCreateExtras, IdempotentForm):
    pass


class DeleteLeadForm(IdempotentForm):
    confirm = HiddenField(validators=[DataRequired("Press the Delete button to confirm.")])
    confirm_again = HiddenField()
