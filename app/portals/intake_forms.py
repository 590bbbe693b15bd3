"""Lead forms built from the field schema (app/leads/fields): the partner portal, admin entry and the public
request form render the same fields and validate with the same `fields.clean`."""

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TelField, TextAreaField

from app.idempotency import IdempotentForm
from app.leads import fields

WIDGETS = {"email": EmailField, "phone": TelField, "textarea": TextAreaField}
SECTIONS = (
    ("Contact", ("first_name", "last_name", "contact_email", "contact_phone")),
    ("Company", ("contact_company", "job_title", "industry", "address")),
    ("Qualification", ("lead_type", "budget", "timeline", "description")),
)


def _wtf_field(spec: fields.FieldSpec):
    label = f"{spec.label} (required)" if spec.required else spec.label
    kw = {"description": spec.help_text, "render_kw": {"maxlength": spec.max_length}}
    if spec.kind == "choice":
        return SelectField(label, choices=[("", "—"), *spec.choices], validate_choice=False, description=spec.help_text)
    if spec.kind == "number":
        kw["render_kw"]["inputmode"] = "decimal"
    return WIDGETS.get(spec.kind, StringField)(label, **kw)


class LeadDataForm:
    """Validation through fields.clean: its messages land on the fields, its result in `cleaned`."""

    lead_category = None
    cleaned = None

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        data = {spec.name: self[spec.name].data for spec in fields.specs_for(self.lead_category)}
        try:
            self.cleaned = fields.clean(data, self.lead_category)
        except fields.LeadDataInvalid as exc:
            for name, message in exc.errors.items():
                self[name].errors = [*self[name].errors, message]
            return False
        return ok

    def lead_data(self) -> dict:
        return {spec.name: self[spec.name].data for spec in fields.specs_for(self.lead_category)}

    def sections(self):
        """(legend, [bound fields]) in display order: contact, company, qualification, the category's own."""
        out = [(legend, [self[name] for name in names]) for legend, names in SECTIONS]
        custom = [self[spec.name] for spec in fields.category_specs(self.lead_category)]
        if custom:
            out.append((self.lead_category.name, custom))
        return out


def lead_form_class(category, base=IdempotentForm, **extra):
    """A form class with the standard lead fields, the category's own fields and `extra` ones."""
    attrs = {spec.name: _wtf_field(spec) for spec in fields.specs_for(category)}
    return type("LeadForm", (LeadDataForm, base), {"lead_category": category, **attrs, **extra})


def lead_form(category, base=IdempotentForm, formdata=None, **extra) -> FlaskForm:
    cls = lead_form_class(category, base, **extra)
    return cls() if formdata is None else cls(formdata=formdata)
