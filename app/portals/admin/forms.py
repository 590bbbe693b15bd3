from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length


class ManualAddForm(FlaskForm):
    name = StringField("Contact name", validators=[DataRequired(), Length(max=120)])
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])


class ReviewNoteForm(FlaskForm):
    note = TextAreaField("Note to the partner (optional)", validators=[Length(max=2000)])
