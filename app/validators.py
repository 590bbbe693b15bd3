"""Form validators shared by every portal."""

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from wtforms.validators import ValidationError


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
