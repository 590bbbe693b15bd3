"""Training authoring (/admin/training): the ordered modules (reordered with HTMX), a module's form, quiz questions,
and the certificates issued so far. The rules live in app/enablement/training.py."""

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField, URLField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from app.enablement import training
from app.enablement.training_progress import MAX_ATTEMPTS
from app.extensions import db
from app.files.checks import accept_attribute, describe
from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.loaders import get_or_404, parse_uuid
from app.models import TrainingCertificate, TrainingModule, TrainingQuestion
from app.models.partners import TIERS
from app.portals.admin import bp
from app.web import htmx_redirect, is_htmx_partial, render
from app.web.actions import run_action

KIND_LABELS = {"video": "Video link", "file": "Uploaded file", "document": "Document", "quiz": "Quiz"}
OPTIONS_HELP = "One option per line. Start each correct option with * (one or more may be correct)."


class ModuleForm(IdempotentForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=list(KIND_LABELS.items()), default="document")
    summary = TextAreaField("Summary (shown in the list)", validators=[Optional(), Length(max=500)])
    video_url = URLField("Video link (https://…)", validators=[Optional(), Length(max=500)])
    upload = DirectFileField("File", kind="training")
    body = TextAreaField("Document text", validators=[Optional(), Length(max=50000)])
    pass_mark = IntegerField("Pass mark (%)", validators=[Optional(), NumberRange(1, 100)], default=80)
    duration_minutes = IntegerField("Duration (minutes)", validators=[Optional(), NumberRange(1, 600)])
    required_tiers = SelectMultipleField("Required for tiers", choices=[(t, t.capitalize()) for t in TIERS])

    def data_for_service(self) -> training.ModuleData:
        return training.ModuleData(
            title=self.title.data,
            kind=self.kind.data,
            summary=self.summary.data or "",
            video_url=self.video_url.data,
            body=self.body.data,
            pass_mark=self.pass_mark.data,
            duration_minutes=self.duration_minutes.data,
            required_tiers=tuple(self.required_tiers.data or ()),
            upload=self.upload.data,
        )


class MoveForm(FlaskForm):
    direction = HiddenField("Direction", validators=[AnyOf(("up", "down"))])


class QuestionForm(IdempotentForm):
    prompt = TextAreaField("Question", validators=[DataRequired(), Length(max=2000)])
    options = TextAreaField("Options", validators=[DataRequired(), Length(max=3000)])


class EmptyForm(FlaskForm):
    pass


def _module_form(module=None, posted=False):
    """The module form: the posted fields (and file) on a POST, else the module's values (or the defaults)."""
    form = ModuleForm() if posted else ModuleForm(formdata=None, obj=module)
    form.upload.render_kw = {"accept": accept_attribute(training.FILE_GROUPS)}
    return form


def _locked(model, record_id):
    """Load a row to delete it, locked: a second admin's delete waits, then finds it gone (404)."""
    record = db.session.get(model, parse_uuid(record_id), with_for_update=True)
    if record is None:
        abort(404)
    return record


def _load_question(module: TrainingModule, question_id) -> TrainingQuestion:
    question = _locked(TrainingQuestion, question_id)
    if question.module_id != module.id:
        abort(404)
    return question


def _list(status=200, moved=None):
    certificates = db.session.scalars(
        sa.select(TrainingCertificate).order_by(TrainingCertificate.issued_at.desc()).limit(20)
    ).all()
    return render(
        "admin/training/page.html",
        partial="admin/training/partials/_modules.html",
        status=status,
        modules=training.modules(),
        kinds=KIND_LABELS,
        moved=moved,
        certificates=certificates,
    )


def _edit_page(module, form, status=200, question_form=None):
    return render(
        "admin/training/edit.html",
        partial="admin/training/partials/_form.html",
        status=status,
        module=module,
        form=form,
        question_form=question_form or QuestionForm(formdata=None),
        kinds=KIND_LABELS,
        file_help=describe(training.FILE_GROUPS),
        options_help=OPTIONS_HELP,
        max_attempts=MAX_ATTEMPTS,
    )


@bp.get("/training")
def training_page():
    return _list()


@bp.route("/training/new", methods=["GET", "POST"])
def training_new():
    form = _module_form(posted=request.method == "POST")
    if request.method == "GET":
        return _edit_page(None, form)

    def answer(outcome):
        if not outcome.ok:
            return _edit_page(None, form, outcome.status)
        flash("Module added.", "success")
        return htmx_redirect(url_for("admin.training_edit", module_id=outcome.result.id))

    return run_action(form, lambda f: training.create_module(current_user, f.data_for_service()), answer)


@bp.route("/training/<module_id>", methods=["GET", "POST"])
def training_edit(module_id):
    module = get_or_404(TrainingModule, module_id)
    if request.method == "GET":
        return _edit_page(module, _module_form(module))
    form = _module_form(posted=True)

    def answer(outcome):
        if not outcome.ok:
            return _edit_page(module, form, outcome.status)
        flash("Module saved.", "success")
        return htmx_redirect(url_for("admin.training_edit", module_id=module.id))

    return run_action(form, lambda f: training.update_module(current_user, module, f.data_for_service()), answer)


@bp.post("/training/<module_id>/delete")
def training_delete(module_id):
    module = _locked(TrainingModule, module_id)

    def answer(outcome):
        flash("Module deleted.", "success")
        return htmx_redirect(url_for("admin.training_page"))

    return run_action(EmptyForm(), lambda f: training.delete_module(current_user, module), answer)


@bp.post("/training/<module_id>/move")
def training_move(module_id):
    module = get_or_404(TrainingModule, module_id)

    def answer(outcome):
        if outcome.ok and not is_htmx_partial():
            return redirect(url_for("admin.training_page"))
        return _list(outcome.status, moved=(module.id, form.direction.data) if outcome.ok else None)

    form = MoveForm()
    return run_action(form, lambda f: training.move_module(current_user, module, f.direction.data), answer)


def _questions_answer(module, form):
    def answer(outcome):
        if outcome.ok and not is_htmx_partial():
            flash("Questions saved.", "success")
            return redirect(url_for("admin.training_edit", module_id=module.id) + "#quiz-questions")
        db.session.refresh(module)
        fresh = QuestionForm(formdata=None) if outcome.ok else form
        if not is_htmx_partial():
            return _edit_page(module, _module_form(module), outcome.status, question_form=fresh)
        return render(
            "admin/training/partials/_questions.html",
            status=outcome.status,
            module=module,
            question_form=fresh,
            options_help=OPTIONS_HELP,
            max_attempts=MAX_ATTEMPTS,
        )

    return answer


@bp.post("/training/<module_id>/questions")
def training_question_add(module_id):
    module = get_or_404(TrainingModule, module_id)
    form = QuestionForm()
    operation = lambda f: training.add_question(current_user, module, f.prompt.data, f.options.data)  # noqa: E731
    return run_action(form, operation, _questions_answer(module, form))


@bp.post("/training/<module_id>/questions/<question_id>/delete")
def training_question_delete(module_id, question_id):
    module = get_or_404(TrainingModule, module_id)
    question = _load_question(module, question_id)
    operation = lambda f: training.delete_question(current_user, question)  # noqa: E731
    return run_action(EmptyForm(), operation, _questions_answer(module, QuestionForm(formdata=None)))
