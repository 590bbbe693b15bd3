"""Bulk lead import pages (SPEC 9.2, issue 18 item 7), declared once and added to the admin and partner portals.

List and upload → mapping with a live preview → start → progress (polled every second) → rejected rows CSV.
A partner sees only its own imports (others are 404) and needs the capability to originate leads.
"""

import uuid

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField

from app.catalog import operations as catalog
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.files.fields import DirectFileField
from app.leads import imports
from app.loaders import get_or_404
from app.models import Category, LeadImport
from app.web import render
from app.web.actions import run_action
from app.web.routes import add_route

T = "_partials/imports/"


class UploadForm(FlaskForm):
    file = DirectFileField("File (CSV or XLSX, up to 20 MB)", kind="lead_import")
    category = SelectField("Category of the leads", choices=[])

    def fill_choices(self):
        self.category.choices = [("", "— choose —")] + [
            (str(c.id), c.name) for c in catalog.categories(active_only=True)
        ]
        return self


def mapping_form(imp: LeadImport, formdata=None) -> FlaskForm:
    """One select per column of the file, pre-selected with the saved (or guessed) mapping."""
    choices = [("", "— skip this column —")] + imports.targets(imp.category)
    attrs = {
        f"col_{i}": SelectField(header or f"Column {i + 1}", choices=choices) for i, header in enumerate(imp.headers)
    }
    cls = type("MappingForm", (FlaskForm,), attrs)
    data = {f"col_{i}": imp.mapping.get(str(i), "") for i in range(len(imp.headers))}
    # A submitted form is read alone: a column it does not send is skipped, not taken from the saved mapping.
    return cls(formdata=formdata) if formdata is not None else cls(formdata=None, data=data)


def mapping_of(form) -> dict:
    return {name.removeprefix("col_"): f.data for name, f in form._fields.items() if name.startswith("col_")}


def own_partner():
    return current_user.partner if current_user.is_cp else None


def may_import_refusal() -> str | None:
    partner = own_partner()
    if current_user.is_cp and (partner is None or not partner.cap_originates):
        return "Your company is not set up to submit leads: ask an admin to turn on “originates”."
    return None


def load_import(import_id) -> LeadImport:
    """An import the current user may see: staff see all; a partner's members only their partner's (else 404)."""
    imp = get_or_404(LeadImport, import_id)
    if current_user.is_cp and (own_partner() is None or imp.partner_id != own_partner().id):
        abort(404)
    return imp


def _ep(name: str) -> str:
    return f"{request.blueprint}.{name}"


def list_page(form=None, status=200, error=None):
    refusal = may_import_refusal()
    return render(
        T + "page.html",
        partial=T + "partials/_upload_form.html",
        imports=imports.visible_imports(own_partner()),
        form=form or UploadForm().fill_choices(),
        refusal=refusal,
        error=error,
        ep=_ep,
        status=status if not refusal else 403,
    )


def upload_submit():
    if may_import_refusal():
        return list_page()
    form = UploadForm().fill_choices()

    def operation(form):
        category = catalog_category(form.category.data)
        return imports.upload(form.file.data, actor=current_user, partner=own_partner(), category=category)

    def reply(outcome):
        if not outcome.ok:
            error = str(outcome.error) if outcome.error and not outcome.error.field else None
            return list_page(outcome.form, outcome.status, error)
        return redirect(url_for(_ep("import_detail"), import_id=outcome.result.id), 303)

    return run_action(form, operation, reply)


def catalog_category(category_id) -> Category:
    try:
        category = db.session.get(Category, uuid.UUID(str(category_id))) if category_id else None
    except ValueError:
        category = None
    if category is None or not category.is_active:
        raise imports.ImportRefused("Choose the category of the leads.", field="category")
    return category


def detail_page(import_id, form=None, status=200, error=None):
    imp = load_import(import_id)
    if imp.status != "uploaded":
        return progress_page(import_id, status, error)
    form = form or mapping_form(imp)
    return render(
        T + "detail.html", imp=imp, form=form, rows=_preview(imp, mapping_of(form)), error=error, ep=_ep, status=status
    )


def _preview(imp, mapping):
    try:
        return imports.preview(imp, {k: v for k, v in mapping.items() if v})
    except Refused:
        return []


def preview_fragment(import_id):
    """The preview table for the mapping currently chosen on the page (HTMX, on every select change)."""
    imp = load_import(import_id)
    form = mapping_form(imp, formdata=request.args)
    mapping = {k: v for k, v in mapping_of(form).items() if v in dict(imports.targets(imp.category))}
    return render(T + "detail.html", partial=T + "partials/_preview.html", imp=imp, form=form,
                  rows=_preview(imp, mapping), ep=_ep)  # fmt: skip


def start_submit(import_id):
    imp = load_import(import_id)
    if may_import_refusal():
        return list_page()
    form = mapping_form(imp, formdata=request.form)

    def reply(outcome):
        if not outcome.ok:
            error = str(outcome.error) if outcome.error else None
            return detail_page(import_id, outcome.form, outcome.status, error)
        flash(f"Import of {imp.filename} started.", "success")
        return redirect(url_for(_ep("import_progress"), import_id=imp.id), 303)

    return run_action(form, lambda form: imports.start(imp, mapping_of(form), current_user), reply)


def progress_page(import_id, status=200, error=None):
    imp = load_import(import_id)
    return render(
        T + "progress.html", partial=T + "partials/_progress.html", imp=imp, ep=_ep, status=status, error=error
    )


def rejected_download(import_id):
    imp = load_import(import_id)
    if imp.rejected_file is None:
        abort(404)
    response = Response(storage.read_bytes(imp.rejected_file), mimetype="text/csv")
    response.headers["Content-Disposition"] = storage.content_disposition(imp.rejected_file)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


VIEWS = (
    ("", "imports", list_page, ("GET",)),
    ("", "import_upload", upload_submit, ("POST",)),
    ("/<import_id>", "import_detail", detail_page, ("GET",)),
    ("/<import_id>/preview", "import_preview", preview_fragment, ("GET",)),
    ("/<import_id>/start", "import_start", start_submit, ("POST",)),
    ("/<import_id>/progress", "import_progress", progress_page, ("GET",)),
    ("/<import_id>/rejected.csv", "import_rejected", rejected_download, ("GET",)),
)


def _allow_large_upload(endpoint, _values):
    """The upload may be up to 20 MB, more than MAX_UPLOAD_BYTES. Set before any before_request (the CSRF check
    parses the form), which is why this is a URL value preprocessor."""
    if endpoint and endpoint.endswith(".import_upload"):
        request.max_content_length = imports.MAX_BYTES + 1024 * 1024


def register(bp, rule: str = "/imports", member_roles: tuple | None = None) -> None:
    """Add the import pages under `rule` to a portal's blueprint (partners: owners and managers only)."""
    bp.url_value_preprocessor(_allow_large_upload)
    for suffix, endpoint, view, methods in VIEWS:
        add_route(bp, rule + suffix, endpoint, view, methods=methods, member_roles=member_roles)
