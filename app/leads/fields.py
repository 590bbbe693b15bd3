"""What a lead is made of, and the one validator every channel uses (SPEC 9.2).

A lead's data is a flat mapping: the standard fields below by name, and each of its category's own fields
as ``cf_<key>``. Forms, the import job and the API all hand such a mapping to `clean()`, which either
returns the values to store or raises `LeadDataInvalid` with a message per field.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from app.errors import Refused

CUSTOM_PREFIX = "cf_"
MAX_DESCRIPTION = 5000


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the key in a submission: a Lead column, or cf_<key> for a category field
    label: str
    kind: str = "text"  # text, number, email, phone, choice, textarea
    group: str = "additional"  # required, additional, qualification (scoring), or "" (not scored)
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int = 120
    help_text: str = ""

    @property
    def is_custom(self) -> bool:
        return self.name.startswith(CUSTOM_PREFIX)


LEAD_TYPES = (("business", "Business"), ("consumer", "Consumer"), ("public_sector", "Public sector"))
BUDGETS = (
    ("under_5k", "Under 5,000"),
    ("5k_25k", "5,000 – 25,000"),
    ("25k_100k", "25,000 – 100,000"),
    ("over_100k", "Over 100,000"),
    ("unknown", "Not known yet"),
)
TIMELINES = (
    ("now", "Now (within a month)"),
    ("quarter", "Within 3 months"),
    ("year", "Within a year"),
    ("exploring", "Just exploring"),
)

# Seed 001's quality score groups: required (name, email, phone), additional (company …), qualification.
STANDARD_FIELDS = (
    FieldSpec("first_name", "First name", group="required", required=True, max_length=80),
    FieldSpec("last_name", "Last name", group="required", required=True, max_length=80),
    FieldSpec("contact_email", "Email", kind="email", group="required", max_length=254),
    FieldSpec("contact_phone", "Phone", kind="phone", group="required", max_length=40),
    FieldSpec("contact_company", "Company", max_length=200),
    FieldSpec("job_title", "Job title"),
    FieldSpec("industry", "Industry"),
    FieldSpec("address", "Address", max_length=300),
    FieldSpec("lead_type", "Lead type", kind="choice", group="qualification", choices=LEAD_TYPES),
    FieldSpec("budget", "Budget", kind="choice", group="qualification", choices=BUDGETS),
    FieldSpec("timeline", "Timeline", kind="choice", group="qualification", choices=TIMELINES),
    FieldSpec("description", "What is needed", kind="textarea", group="", max_length=MAX_DESCRIPTION),
)
STANDARD_NAMES = tuple(spec.name for spec in STANDARD_FIELDS)


class LeadDataInvalid(Refused):
    """Some fields are wrong; `errors` maps each field's name to its message."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


def category_specs(category) -> list[FieldSpec]:
    """The category's own fields (admin-defined): required ones score with the required group."""
    if category is None:
        return []
    return [
        FieldSpec(
            CUSTOM_PREFIX + f.key,
            f.label,
            kind=f.field_type,
            group="required" if f.required else "additional",
            required=f.required,
            choices=tuple((choice, choice) for choice in f.choices or ()),
            max_length=254 if f.field_type == "email" else 200,
            help_text=f.help_text,
        )
        for f in category.fields
    ]


def specs_for(category) -> list[FieldSpec]:
    return [*STANDARD_FIELDS, *category_specs(category)]


def normalise_email(address: str) -> str:
    """The address duplicates are compared by: lower case, no +tag; Gmail's dots and googlemail.com folded."""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def to_e164(raw: str, region: str | None = None) -> str:
    """The number in E.164 (+4420…); ValueError when it is not a valid number.

    Numbers without a country code are read as the default region's (PHONE_DEFAULT_REGION)."""
    return _e164(raw, region or current_app.config["PHONE_DEFAULT_REGION"])


@lru_cache(maxsize=4096)  # clean() checks a number, then stores its E.164: parsed once
def _e164(raw: str, region: str) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(raw) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _check(spec: FieldSpec, value: str) -> str:
    """The stored form of one non-empty value, or ValueError with the message to show."""
    if len(value) > spec.max_length:
        raise ValueError(f"Keep it under {spec.max_length} characters.")
    if spec.kind == "email":
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValueError("Enter an email address like name@example.com.") from None
    if spec.kind == "phone":
        try:
            to_e164(value)
        except ValueError:
            raise ValueError("Enter a valid phone number, with its country code (+44 …) if it is not local.") from None
        return value
    if spec.kind == "number":
        try:
            number = Decimal(value.replace(",", ""))
        except InvalidOperation:
            raise ValueError("Enter a number.") from None
        if not number.is_finite():
            raise ValueError("Enter a number.")
        return str(number)
    if spec.kind == "choice" and value not in {key for key, _label in spec.choices}:
        raise ValueError("Choose one of the options.")
    return value


@dataclass
class CleanLead:
    """What `clean()` returns: Lead column values, the category's values, and the normalised keys."""

    columns: dict = field(default_factory=dict)
    custom: dict = field(default_factory=dict)

    @property
    def filled(self) -> set[str]:
        return {name for name, value in self.columns.items() if value} | {CUSTOM_PREFIX + k for k in self.custom}


def plain_text(data: Mapping, name: str) -> str:
    """The submitted value of `name` as text: control characters removed, trimmed."""
    value = data.get(name)
    if value is None:
        return ""
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(value)).strip()


def clean(data: Mapping, category, specs: list[FieldSpec] | None = None) -> CleanLead:
    """Validate a submission against the standard fields and the category's schema, all errors at once.

    `specs` (specs_for(category)) may be passed by a caller cleaning many rows of one category (an import)."""
    errors, result = {}, CleanLead()
    for spec in specs if specs is not None else specs_for(category):
        value = plain_text(data, spec.name)
        if not value:
            if spec.required:
                errors[spec.name] = f"{spec.label} is required."
            continue
        try:
            stored = _check(spec, value)
        except ValueError as exc:
            errors[spec.name] = str(exc)
            continue
        if spec.is_custom:
            result.custom[spec.name.removeprefix(CUSTOM_PREFIX)] = stored
        else:
            result.columns[spec.name] = stored
    reachable = result.columns.get("contact_email") or result.columns.get("contact_phone")
    if not reachable and "contact_email" not in errors and "contact_phone" not in errors:
        errors["contact_email"] = "Give an email or a phone number, so the lead can be followed up."
    if errors:
        raise LeadDataInvalid(errors)
    columns = result.columns
    if columns.get("contact_email"):
        columns["email_normalized"] = normalise_email(columns["contact_email"])
    if columns.get("contact_phone"):
        columns["phone_e164"] = to_e164(columns["contact_phone"])
    columns["contact_name"] = f"{columns['first_name']} {columns['last_name']}"[:120]
    return result


def default_title(columns: dict) -> str:
    name = columns.get("contact_name") or "New lead"
    company = columns.get("contact_company")
    return (f"{name} · {company}" if company else name)[:200]
