"""Admin: a category's field schema editor (SPEC 9.2) — add, edit, delete and order the fields its lead forms ask
for, with a live preview of the resulting form. Every action answers with the whole editor (one partial)."""

from types import SimpleNamespace

from flask import abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.catalog import fields as schema
from app.loaders import get_or_404, load_category
from app.models import CategoryField
from app.portals.admin import bp
from app.portals.intake_forms import lead_form
from app.web import htmx_redirect, is_htmx_partial, render
from app.web.actions import run_action

TYPES = [("text", "Text"), ("number", "Number"), ("email", "Email"), ("phone", "Phone"), ("choice", "Choice")]
NEW = "new"


class FieldForm(FlaskForm):
    label = StringField("Label", render_kw={"maxlength": 120})
    field_type = SelectField("Type", choices=TYPES, validate_choice=False)
    required = BooleanField("Required")
    choices = TextAreaField("Choices (one per line, for the Choice type)")
    help_text = StringField("Help text", render_kw={"maxlength": 200})

    def values(self) -> dict:
        return {
            "label": self.label.data or "",
            "field_type": self.field_type.data or "",
            "required": bool(self.required.data),
            "choices_text": self.choices.data or "",
            "help_text": self.help_text.data or "",
        }


def _edit_form(field, formdata=False) -> FieldForm:
    prefix = f"f{field.id.hex[:12]}"
    if formdata:
        return FieldForm(prefix=prefix)
    data = {"choices": "\n".join(field.choices or [])}
    return FieldForm(formdata=None, prefix=prefix, obj=field, data=data)


def _load_field(category, field_id) -> CategoryField:
    field = get_or_404(CategoryField, field_id)
    if field.category_id != category.id:
        abort(404)
    return field


def _preview(category, draft: dict | None = None):
    """The lead form the category's fields make (plus the field being added, when it has a label)."""
    fields = list(category.fields)
    if draft and draft.get("label", "").strip():
        key = schema.key_for(draft["label"], {f.key for f in fields})
        choices = schema.parse_choices(draft.get("choices_text", ""))
        fields.append(SimpleNamespace(key=key, label=draft["label"].strip()[:120], field_type=draft["field_type"]
                                      if draft["field_type"] in dict(TYPES) else "text", required=draft["required"],
                                      choices=choices, help_text=draft.get("help_text", "")[:200]))  # fmt: skip
    return lead_form(SimpleNamespace(name=category.name, fields=fields), base=FlaskForm, formdata=None)


def _editor(category, status=200, add_form=None, editing=None, edit_form=None, message=None, draft=None):
    return render(
        "admin/categories/fields/page.html",
        partial="admin/categories/fields/partials/_editor.html",
        status=status,
        category=category,
        add_form=add_form or FieldForm(formdata=None, prefix=NEW),
        editing=editing,
        edit_form=edit_form,
        edit_form_for=_edit_form,
        preview=_preview(category, draft),
        message=message,
    )


@bp.get("/categories/<category_id>/fields")
def category_fields(category_id):
    return _editor(load_category(category_id))


@bp.get("/categories/<category_id>/fields/preview")
def category_fields_preview(category_id):
    category = load_category(category_id)
    form = FieldForm(request.args, prefix=NEW)
    if not is_htmx_partial():
        return _editor(category, add_form=form, draft=form.values())
    return render("admin/categories/fields/partials/_preview.html", preview=_preview(category, form.values()))


def _answer(category, message):
    def reply(outcome):
        if outcome.ok:
            if not is_htmx_partial():
                return htmx_redirect(url_for("admin.category_fields", category_id=category.id))
            return _editor(category, message=message(outcome.result))
        return _editor(category, outcome.status, message=str(outcome.error or "Reload the page and try again."))

    return reply


@bp.post("/categories/<category_id>/fields")
def category_field_add(category_id):
    category = load_category(category_id)

    def reply(outcome):
        if outcome.ok:
            return _answer(category, lambda f: f"Field “{f.label}” added (key {f.key}).")(outcome)
        return _editor(category, outcome.status, add_form=outcome.form, draft=outcome.form.values())

    operation = lambda form: schema.add_field(category, current_user, **form.values())  # noqa: E731
    return run_action(FieldForm(prefix=NEW), operation, reply)


@bp.get("/categories/<category_id>/fields/<field_id>/edit")
def category_field_edit(category_id, field_id):
    category = load_category(category_id)
    field = _load_field(category, field_id)
    return _editor(category, editing=field.id, edit_form=_edit_form(field))


@bp.post("/categories/<category_id>/fields/<field_id>")
def category_field_update(category_id, field_id):
    category = load_category(category_id)
    field = _load_field(category, field_id)

    def reply(outcome):
        if outcome.ok:
            return _answer(category, lambda f: f"Field “{f.label}” saved.")(outcome)
        return _editor(category, outcome.status, editing=field.id, edit_form=outcome.form)

    operation = lambda form: schema.update_field(field, current_user, **form.values())  # noqa: E731
    return run_action(_edit_form(field, formdata=True), operation, reply)


@bp.post("/categories/<category_id>/fields/<field_id>/delete")
def category_field_delete(category_id, field_id):
    category = load_category(category_id)
    field = _load_field(category, field_id)
    label = field.label
    reply = _answer(category, lambda _r: f"Field “{label}” removed; leads keep the values they had.")
    return run_action(FlaskForm(), lambda _f: schema.delete_field(field, current_user), reply)


@bp.post("/categories/<category_id>/fields/<field_id>/move")
def category_field_move(category_id, field_id):
    category = load_category(category_id)
    field = _load_field(category, field_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        return _editor(category, 422, message="Choose up or down.")
    return run_action(
        FlaskForm(),
        lambda _f: schema.move_field(field, direction, current_user),
        _answer(category, lambda _r: "Moved."),
    )
