"""The CP's company profile: company details, logo, bank details, and its content per category."""

import re

from flask import flash, redirect, request, url_for
from flask_login import current_user
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation, ValidationError

from app.access import OWNER, members
from app.catalog import operations as catalog
from app.extensions import db
from app.files import storage
from app.files.checks import accept_attribute
from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.loaders import load_category, load_content, load_content_image
from app.models.partners import BANK_FIELDS, SECRET_FIELDS, mask
from app.partners import kyc, profiles
from app.portals.cp import bp
from app.web import is_htmx_partial, render

ACCEPT_IMAGES = accept_attribute(("image",))
PHONE = Regexp(r"^[0-9+()\-.\s]{5,40}$", message="Use digits, spaces and + ( ) - only.")
ROUTING = "Use 4 to 40 letters, digits, spaces or dashes."
CURRENCY_CHOICES = [SelectChoice(code, f"{code} · {name}") for code, name in kyc.CURRENCIES]
PAYOUT_CHOICES = [SelectChoice(value, label) for value, label in kyc.PAYOUT_LABELS.items()]
TAX = "Use 2 to 40 letters, digits, spaces, dots, slashes or dashes."


class CompanyForm(IdempotentForm):
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    contact_phone = StringField("Contact phone", validators=[Optional(), Length(max=40), PHONE])
    website = StringField("Website", validators=[Optional(), Length(max=200)])
    address = StringField("Address", validators=[Optional(), Length(max=300)])

    def validate_website(self, field):
        if field.data and not re.match(r"^(https?://)?[\w.-]+\.[a-z]{2,}(/\S*)?$", field.data.strip(), re.I):
            raise ValidationError("Enter a web address such as https://example.com.")


class KeepMasked:
    """A secret field shows its stored value masked; sent back unchanged, the stored value is kept as it is."""

    def __call__(self, form, field):
        if field.data and field.data == form.masks.get(field.name):
            form.kept.add(field.name)
            raise StopValidation()


class BankForm(IdempotentForm):
    bank_name = StringField("Bank name", validators=[DataRequired(), Length(max=120)])
    bank_account_name = StringField("Account holder name", validators=[DataRequired(), Length(max=120)])
    bank_account_number = StringField(
        "Account number",
        validators=[
            KeepMasked(),
            Optional(),
            Length(max=60),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9 \-]{3,59}$", message="Use 4 or more letters, digits, spaces or dashes."),
        ],
    )
    bank_iban = StringField("IBAN", validators=[KeepMasked(), Optional(), Length(max=42)])
    bank_swift_code = StringField("SWIFT/BIC code", validators=[Optional(), Length(max=20)])
    bank_routing_number = StringField(
        "Routing number (ABA, sort code, BSB…)",
        validators=[Optional(), Length(max=40), Regexp(r"^[0-9A-Za-z][0-9A-Za-z \-]{3,39}$", message=ROUTING)],
    )
    bank_branch = StringField("Branch", validators=[Optional(), Length(max=120)])
    bank_currency = SelectField("Payout currency", choices=CURRENCY_CHOICES, default="USD")
    payout_method = SelectField("Payout method", choices=PAYOUT_CHOICES, default="bank_transfer")
    tax_id = StringField(
        "Tax id (VAT number, EIN, …)",
        validators=[
            KeepMasked(),
            Optional(),
            Length(max=40),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{1,39}$", message=TAX),
        ],
    )

    def __init__(self, *args, partner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.masks = {field: mask(getattr(partner, field, None)) for field in SECRET_FIELDS}
        self.kept: set[str] = set()
        if kwargs.get("formdata", True) is None:  # shown, not submitted: the secret fields only masked
            for field in SECRET_FIELDS:
                self[field].data = self.masks[field]

    def validate_bank_iban(self, field):
        if field.data and not field.errors:
            try:
                field.data = kyc.normalise_iban(field.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None

    def validate_bank_swift_code(self, field):
        if field.data and not field.errors:
            try:
                field.data = kyc.normalise_bic(field.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        has_number = {"bank_account_number", "bank_iban"} & self.kept or self.bank_account_number.data
        if valid and not (has_number or self.bank_iban.data):
            self.bank_account_number.errors = ["Enter an account number or an IBAN."]
            return False
        return valid

    def bank_data(self) -> dict:
        """The submitted bank fields for profiles.update_bank_details; kept secret fields are left out."""
        return {field: self[field].data for field in BANK_FIELDS if field not in self.kept}


class LogoForm(IdempotentForm):
    logo = DirectFileField("Company logo (JPEG, PNG or WebP)", kind="logo")


class ContentForm(IdempotentForm):
    description = TextAreaField("Description", validators=[DataRequired(), Length(max=5000)])


class ContentImageForm(IdempotentForm):
    image = DirectFileField("Image (JPEG, PNG or WebP)", kind="content_image")


def _partner():
    return current_user.partner


def _page(status=200, partial=None, **context):
    partner = _partner()
    context.setdefault("company_form", CompanyForm(obj=partner, formdata=None))
    context.setdefault("bank_form", BankForm(obj=partner, formdata=None, partner=partner))
    context.setdefault("logo_form", LogoForm(formdata=None))
    return render(
        "cp/profile/page.html",
        partial=partial,
        status=status,
        partner=partner,
        categories=catalog.categories(active_only=True),
        contents=catalog.content_for(partner),
        content_errors=context.pop("content_errors", {}),
        accept=ACCEPT_IMAGES,
        **context,
    )


def _done(message: str, anchor: str):
    flash(message, "success")
    return redirect(url_for("cp.profile", _anchor=anchor))


@bp.get("/profile")
def profile():
    return _page()


@bp.post("/profile/company")
@members(OWNER)  # the company's details and bank account are the owner's
def profile_company():
    form = CompanyForm()
    if not form.validate():
        return _page(422, "cp/profile/partials/_company.html", company_form=form)
    changed = profiles.update_company(_partner(), form.data, actor=current_user)
    db.session.commit()
    return _done("Company details saved." if changed else "Nothing changed.", "company")


@bp.post("/profile/bank")
@members(OWNER)  # the company's details and bank account are the owner's
def profile_bank():
    form = BankForm(partner=_partner())
    if not form.validate():
        return _page(422, "cp/profile/partials/_bank.html", bank_form=form)
    changed = profiles.update_bank_details(_partner(), form.bank_data(), actor=current_user)
    db.session.commit()
    message = "Bank details saved; the admins were told and will verify them again."
    return _done(message if changed else "Nothing changed.", "bank")


@bp.post("/profile/logo")
@members(OWNER)  # the company's details and bank account are the owner's
def profile_logo():
    form = LogoForm()
    if request.form.get("action") == "remove":
        profiles.remove_logo(_partner(), actor=current_user)
        db.session.commit()
        return _done("Logo removed.", "company")
    try:
        profiles.set_logo(_partner(), form.logo.data, actor=current_user)
    except storage.UploadRejected as exc:
        db.session.rollback()
        form.logo.errors = [str(exc)]
        return _page(422, "cp/profile/partials/_logo.html", logo_form=form)
    db.session.commit()
    return _done("Logo updated.", "company")


# --- content per category -------------------------------------------------------------------------


def _content_card(category, content, status=200, error=None, form=None):
    """The one category's content card (HTMX), or the whole profile page."""
    errors = {category.id: error} if error else {}
    return _page(
        status,
        "cp/profile/partials/_content_card.html",
        category=category,
        content=content,
        content_form=form,
        content_errors=errors,
    )


@bp.post("/profile/content/<category_id>")
def content_save(category_id):
    category = load_category(category_id, active_only=True)
    form = ContentForm()
    content = catalog.content_for(_partner()).get(category.id)
    if not form.validate():
        # The first error of any field: the description's, or the form's key (a reloaded page fixes that).
        message = next(iter(form.description.errors or [e for errors in form.errors.values() for e in errors]))
        return _content_card(category, content, 422, message, form)
    try:
        content = catalog.save_content(_partner(), category, form.description.data, actor=current_user)
    except catalog.CatalogError as exc:
        db.session.rollback()
        return _content_card(category, content, 409, str(exc), form)
    db.session.commit()
    return _content_card(category, content) if is_htmx_partial() else _done("Draft saved.", "content")


def _content_action(content_id, action, success: str):
    content = load_content(content_id)
    try:
        action(content)
    except (catalog.CatalogError, storage.UploadRejected) as exc:
        db.session.rollback()
        content = load_content(content_id)
        return _content_card(
            content.category, content, 422 if isinstance(exc, storage.UploadRejected) else 409, str(exc)
        )
    db.session.commit()
    return _content_card(content.category, content) if is_htmx_partial() else _done(success, "content")


@bp.post("/profile/content/<content_id>/submit")
def content_submit(content_id):
    return _content_action(content_id, lambda c: catalog.submit_content(c, actor=current_user), "Submitted for review.")


@bp.post("/profile/content/<content_id>/images")
def content_image_add(content_id):
    upload = ContentImageForm().image.data
    return _content_action(
        content_id, lambda c: catalog.add_content_image(c, upload, actor=current_user), "Image added."
    )


@bp.post("/profile/content/<content_id>/images/<image_id>/remove")
def content_image_remove(content_id, image_id):
    def remove(content):
        catalog.remove_content_image(content, load_content_image(content, image_id), actor=current_user)

    return _content_action(content_id, remove, "Image removed.")
