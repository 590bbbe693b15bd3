from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.idempotency import IdempotentForm
from app.validators import EmailAddress


class ManualAddForm(IdempotentForm):
    name = StringField("Contact name", validators=[DataRequired(), Length(max=120)])
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), EmailAddress(), Length(max=254)])


class ReviewNoteForm(IdempotentForm):
    note = TextAreaField("Note to the partner (optional)", validators=[Length(max=2000)])
