from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.validators import EmailAddress

PASSWORD_RULES = [DataRequired(), Length(min=10, max=128, message="Use 10 to 128 characters.")]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[Length(max=120)])
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), EmailAddress(), Length(max=254)])
    password = PasswordField("Password", validators=PASSWORD_RULES)
    confirm = PasswordField("Confirm password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])
    new_password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Confirm new password", validators=[DataRequired(), EqualTo("new_password", "Passwords differ.")]
    )

    def validate_new_password(self, field):
        if field.data and field.data.lower() == (self.current_password.data or "").lower():
            raise ValidationError("Choose a password different from the current one.")


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), EmailAddress(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    """A reset or set-password link's form: the same rules as changing a password."""

    new_password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Confirm new password", validators=[DataRequired(), EqualTo("new_password", "Passwords differ.")]
    )
