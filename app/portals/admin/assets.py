"""Admin marketing assets (/admin/assets, SPEC 9.6): upload, edit, retire and restore; downloads per partner.

Each form runs through app/web/actions.run_action: a refused upload or field is shown beside its field with 422.
"""

from flask import flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.catalog import operations as catalog
from app.enablement import assets, assets_files
from app.extensions import db
from app.idempotency import IdempotentForm
from app.models.assets import ASSET_TYPES
from app.models.partners import TIERS
from app.portals.admin import bp
from app.validators import query_page
from app.web import render
from app.web.actions import run_action

PER_PAGE = 30
TIER_CHOICES = [(t, t.capitalize() + (" (every partner)" if t == TIERS[0] else " and above")) for t in TIERS]


class AssetFields:
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    asset_type = SelectField("Type", choices=list(ASSET_TYPES), validators=[DataRequired()])
    category_id = SelectField("Category (optional)", choices=[], default="")
    min_tier = SelectField("Visible to", choices=TIER_CHOICES, default=TIERS[0], validators=[DataRequired()])


class AssetCreateForm(AssetFields, IdempotentForm):
    file = FileField("File")


class AssetEditForm(AssetFields, IdempotentForm):
    file = FileField("Replace the file (optional)")


class AssetStatusForm(FlaskForm):
    active = RadioField("Status", choices=[("yes", "Active"), ("no", "Retired")], validators=[DataRequired()])


class AssetListFilter(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    type = SelectField("Filter by type", choices=[("", "All types"), *ASSET_TYPES], default="")
    status = SelectField(
        "Filter by status",
        choices=[("", "Active and retired"), ("active", "Active"), ("retired", "Retired")],
        default="",
    )


def _with_categories(form):
    form.category_id.choices = [("", "No category"), *((str(c.id), c.name) for c in catalog.categories())]
    return form


def _fields(form) -> dict:
    return {
        "title": form.title.data or "",
        "description": form.description.data or "",
        "asset_type": form.asset_type.data,
        "category_id": assets.parse_category(form.category_id.data),
        "min_tier": form.min_tier.data,
        "upload": form.file.data,
    }


def _list(form=None, status=200, partial=None):
    filters = AssetListFilter(formdata=request.args or None)
    valid = filters.validate() if request.args else True
    active = {"active": True, "retired": False}.get(filters.status.data) if valid else None
    stmt = assets.admin_statement(filters.type.data if valid else None, active)
    page = db.paginate(stmt, page=query_page(request.args), per_page=PER_PAGE, error_out=False)
    return render(
        "admin/assets/page.html",
        partial=partial,
        status=status if valid else 422,
        page=page,
        filters=filters,
        form=form or _with_categories(AssetCreateForm(formdata=None)),
        accept=assets_files.accept_attribute(),
        extensions=assets_files.EXTENSIONS,
    )


@bp.get("/assets")
def assets_admin():
    return _list(partial="admin/assets/partials/_table.html")


@bp.post("/assets")
def asset_create():
    def answer(outcome):
        if outcome.ok:
            flash(f"“{outcome.result.title}” is published.", "success")
            return redirect(url_for("admin.asset_detail", asset_id=outcome.result.id))
        return _list(outcome.form, outcome.status, partial="admin/assets/partials/_form.html")

    form = _with_categories(AssetCreateForm())
    return run_action(form, lambda f: assets.create_asset(actor=current_user, **_fields(f)), answer)


def _detail(asset, form=None, status=200, partial=None, status_form=None):
    return render(
        "admin/assets/detail.html",
        partial=partial,
        status=status,
        asset=asset,
        form=form or _with_categories(AssetEditForm(obj=asset, formdata=None)),
        status_form=status_form or AssetStatusForm(formdata=None, active="yes" if asset.is_active else "no"),
        downloads=assets.downloads_by_partner(asset),
        accept=assets_files.accept_attribute(),
        extensions=assets_files.EXTENSIONS,
    )


@bp.get("/assets/<asset_id>")
def asset_detail(asset_id):
    return _detail(assets.load(asset_id))


@bp.post("/assets/<asset_id>")
def asset_update(asset_id):
    asset = assets.load(asset_id)

    def answer(outcome):
        if outcome.ok:
            flash("Asset saved.", "success")
            return redirect(url_for("admin.asset_detail", asset_id=asset.id))
        db.session.refresh(asset)
        return _detail(asset, outcome.form, outcome.status, partial="admin/assets/partials/_form.html")

    form = _with_categories(AssetEditForm())
    return run_action(form, lambda f: assets.update_asset(asset, actor=current_user, **_fields(f)), answer)


@bp.post("/assets/<asset_id>/status")
def asset_status(asset_id):
    asset = assets.load(asset_id)

    def answer(outcome):
        if outcome.ok:
            flash("The asset is active again." if asset.is_active else "The asset is retired.", "success")
            return redirect(url_for("admin.asset_detail", asset_id=asset.id))
        return _detail(asset, status=outcome.status, status_form=outcome.form)

    form = AssetStatusForm()
    return run_action(form, lambda f: assets.set_active(asset, f.active.data == "yes", actor=current_user), answer)
