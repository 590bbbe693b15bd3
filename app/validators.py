"""Form validators shared by every portal, and the one parser of each kind of query-string value.

A query string only filters or pages what a page shows, so an unreadable value there is ignored (the filter is
not applied) and an out-of-range one is clamped to the nearest meaningful value, never an error: a page number
past any page is the last page Flask-SQLAlchemy can offer, and a date before or after every record is "no bound".
Clamping matters because the database cannot hold everything Python can: an offset past 2**63 is out of
PostgreSQL's bigint (and SQLite's INTEGER), and a date next to year 1 or 9999 overflows as soon as a day is
added or taken for a range.
"""

import uuid
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask import current_app, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms.validators import ValidationError

MAX_PAGE = 100_000
EARLIEST_DATE = date(2000, 1, 1)  # no record predates the product: an earlier bound is no bound
LATEST_DATE = date(2100, 12, 31)


def query_page(args, name: str = "page") -> int:
    """The page number in `args[name]`: 1 when missing or unreadable, else clamped to 1..MAX_PAGE."""
    try:
        number = int(str(args.get(name) or 1).strip())
    except ValueError:  # not a number, or more digits than int() reads
        return 1
    return min(max(number, 1), MAX_PAGE)


def query_date(value) -> date | None:
    """A filter date (YYYY-MM-DD; what follows the tenth character is ignored): None when missing or unreadable,
    else clamped to EARLIEST_DATE..LATEST_DATE."""
    try:
        day = date.fromisoformat(str(value).strip()[:10]) if value else None
    except ValueError:
        return None
    return None if day is None else min(max(day, EARLIEST_DATE), LATEST_DATE)


def query_uuid(value) -> uuid.UUID | None:
    """A record id in a filter: None when missing or not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip()) if value else None
    except ValueError:
        return None


class DateWithin:
    """A date field of a filter or form: between EARLIEST_DATE and LATEST_DATE (WTForms DateField parses it)."""

    def __init__(self, earliest: date = EARLIEST_DATE, latest: date = LATEST_DATE):
        self.earliest, self.latest = earliest, latest

    def __call__(self, form, field):
        if field.data and not self.earliest <= field.data <= self.latest:
            raise ValidationError(f"Enter a date between {self.earliest:%d %b %Y} and {self.latest:%d %b %Y}.")


class EmailAddress:
    """A syntactically valid email address. Outside production the reserved `.test` domains are
    accepted too, so the demo and test accounts (cp1@demo.test) work."""

    def __init__(self, message: str = "Enter a valid email address."):
        self.message = message

    def __call__(self, form, field):
        try:
            validate_email(
                field.data or "",
                check_deliverability=False,
                test_environment=current_app.config["CONFIG_NAME"] != "production",
            )
        except EmailNotValidError as exc:
            raise ValidationError(f"{self.message} ({exc})") from exc


_flask_wtf_formdata = FlaskForm.Meta.wrap_formdata


def _parts_of_their_own_kind(meta, form, formdata):
    """Flask-WTF gives every field request.files merged with request.form, so a file part named like a text field
    reached that field (and its validators, the idempotency key's included) as a FileStorage: a TypeError, a 500.
    Here file parts go only to the form's file fields; every other field sees only the text parts."""
    wrapped = _flask_wtf_formdata(meta, form, formdata)
    if wrapped is formdata or not isinstance(wrapped, CombinedMultiDict):
        return wrapped  # formdata the view passed itself (e.g. request.values) is used as given
    file_fields = {field.name for field in form if isinstance(field, FileField)}
    parts = MultiDict(request.form.items(multi=True))
    for name, upload in request.files.items(multi=True):
        if name in file_fields:
            parts.add(name, upload)
    return parts


def register_form_parts_guard() -> None:
    """Every FlaskForm (all the app's forms are) reads file parts only into file fields."""
    FlaskForm.Meta.wrap_formdata = _parts_of_their_own_kind
