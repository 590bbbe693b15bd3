"""A category's field schema (SPEC 9.2): the admin-defined fields its lead forms ask for, on every channel.

A field's key is made once from its first label and never changes, so the values existing leads hold under it
(Lead.custom_fields) keep their meaning; deleting or changing a field leaves those values where they are.
"""

import re

import sqlalchemy as sa

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.models import CategoryField
from app.models.intake import FIELD_TYPES

MAX_FIELDS = 30
MAX_CHOICES = 50
KEY_LENGTH = 40


class FieldInvalid(Refused):
    """A field definition that breaks a rule; `errors` maps each form field to its message."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


def parse_choices(text: str) -> list[str]:
    """One choice a line, trimmed, blank lines and repeats dropped."""
    seen, out = set(), []
    for line in (text or "").splitlines():
        choice = line.strip()[:100]
        if choice and choice not in seen:
            seen.add(choice)
            out.append(choice)
    return out


def key_for(label: str, taken: set[str]) -> str:
    """A key from the label (lower case, a-z 0-9 _), unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[: KEY_LENGTH - 4] or "field"
    if base[0].isdigit():
        base = f"f_{base}"[: KEY_LENGTH - 4]
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


def _checked(label: str, field_type: str, choices_text: str, help_text: str) -> dict:
    errors, label, help_text = {}, (label or "").strip(), (help_text or "").strip()
    choices = parse_choices(choices_text)
    if not label:
        errors["label"] = "Give the field a label."
    elif len(label) > 120:
        errors["label"] = "Keep the label under 120 characters."
    if field_type not in FIELD_TYPES:
        errors["field_type"] = "Choose a type."
    elif field_type == "choice" and not choices:
        errors["choices"] = "List the choices, one per line."
    if len(choices) > MAX_CHOICES:
        errors["choices"] = f"Keep it to {MAX_CHOICES} choices."
    if len(help_text) > 200:
        errors["help_text"] = "Keep the help text under 200 characters."
    if errors:
        raise FieldInvalid(errors)
    return {"label": label, "field_type": field_type, "choices": choices if field_type == "choice" else [],
            "help_text": help_text}  # fmt: skip


def _fields(category) -> list[CategoryField]:
    stmt = sa.select(CategoryField).where(CategoryField.category_id == category.id)
    return list(db.session.scalars(stmt.order_by(CategoryField.sort_order, CategoryField.created_at)))


def add_field(category, actor, *, label, field_type, required=False, choices_text="", help_text="") -> CategoryField:
    """A new field, last in the form."""
    values = _checked(label, field_type, choices_text, help_text)
    existing = _fields(category)
    if len(existing) >= MAX_FIELDS:
        raise FieldInvalid({"label": f"A category has at most {MAX_FIELDS} fields."})
    key = key_for(values["label"], {f.key for f in existing})
    last = max((f.sort_order for f in existing), default=0)
    field = CategoryField(category_id=category.id, key=key, required=bool(required), sort_order=last + 1, **values)
    db.session.add(field)
    db.session.flush()
    audit.record(actor, "category_field.added", field, after={"category_id": str(category.id), "key": key, **values})
    db.session.expire(category, ["fields"])
    return field


def update_field(field: CategoryField, actor, *, label, field_type, required=False, choices_text="", help_text=""):
    """Change a field's label, type, choices, help or whether it is required (its key stays)."""
    values = {**_checked(label, field_type, choices_text, help_text), "required": bool(required)}
    before = {name: getattr(field, name) for name in values}
    for name, value in values.items():
        setattr(field, name, value)
    audit.record(actor, "category_field.changed", field, before=before, after=values)
    db.session.flush()
    return field


def delete_field(field: CategoryField, actor) -> None:
    """Remove the field from the form; leads keep any value they hold under its key."""
    audit.record(actor, "category_field.deleted", field, before={"key": field.key, "label": field.label})
    db.session.delete(field)
    db.session.flush()


def move_field(field: CategoryField, direction: str, actor) -> None:
    """Swap the field with its neighbour above or below (renumbering the category's fields 1..n)."""
    fields = [f for f in _fields_of(field)]
    index = fields.index(field)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(fields):
        fields[index], fields[other] = fields[other], fields[index]
    for number, each in enumerate(fields, start=1):
        each.sort_order = number
    audit.record(actor, "category_field.moved", field, after={"direction": direction})
    db.session.flush()


def _fields_of(field: CategoryField) -> list[CategoryField]:
    stmt = sa.select(CategoryField).where(CategoryField.category_id == field.category_id)
    return list(db.session.scalars(stmt.order_by(CategoryField.sort_order, CategoryField.created_at)))
