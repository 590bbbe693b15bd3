"""Marketing assets (/cp/assets, SPEC 9.6): browse by type and category, download, co-branded PDFs.

Every member may browse and download, viewers included (all GET). The filter form is a GET form: HTMX swaps the
grid, and a plain submit renders the whole page. A download is a GET that records itself (like a referral visit):
the asset's count and a row for the partner. An asset above the partner's tier, or retired, is 404 everywhere.
"""

from flask import abort, make_response, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField

from app.catalog import operations as catalog
from app.enablement import assets, assets_pdf
from app.extensions import db
from app.files import send_stored_file
from app.loaders import parse_uuid
from app.models.assets import ASSET_TYPES
from app.portals.cp import bp
from app.validators import query_page
from app.web import render

PER_PAGE = 24


class AssetFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    type = SelectField("Type", choices=[("", "All types"), *ASSET_TYPES], default="")
    category = SelectField("Category", choices=[], default="")


def _filter_form() -> AssetFilterForm:
    form = AssetFilterForm(formdata=request.args or None)
    form.category.choices = [("", "All categories"), *((str(c.id), c.name) for c in catalog.categories(True))]
    return form


@bp.get("/assets")
def assets_page():
    partner = current_user.partner
    form = _filter_form()
    valid = form.validate() if request.args else True
    asset_type = form.type.data if valid and form.type.data else None
    category_id = parse_uuid(form.category.data) if valid and form.category.data else None
    stmt = assets.partner_statement(partner, asset_type, category_id)
    page = db.paginate(stmt, page=query_page(request.args), per_page=PER_PAGE, error_out=False)
    return render(
        "cp/assets/page.html",
        partial="cp/assets/partials/_grid.html",
        status=200 if valid else 422,
        form=form,
        page=page,
        partner=partner,
        cobranded_types=assets.COBRANDED_TYPES,
    )


@bp.get("/assets/<asset_id>/thumbnail")
def asset_thumbnail(asset_id):
    asset = assets.load_for_partner(current_user.partner, asset_id)
    if asset.thumbnail is None:
        abort(404)
    return send_stored_file(asset.thumbnail)


@bp.get("/assets/<asset_id>/download")
def asset_download(asset_id):
    """The asset's file, counted (committed before the bytes go out: a download counts once, and only when the
    file is there to send)."""
    partner = current_user.partner
    asset = assets.load_for_partner(partner, asset_id)
    response = send_stored_file(asset.file)  # a redirect to a short-lived link with S3; 404 if the bytes are gone
    if request.method == "GET" and response.status_code in (200, 302):  # not a HEAD, nor a 304 to a cached copy
        assets.record_download(asset, partner=partner, actor=current_user)
        db.session.commit()
    disposition = response.headers.get("Content-Disposition")
    if disposition:  # a download, never shown in the tab (an HTML template above all)
        response.headers["Content-Disposition"] = disposition.replace("inline", "attachment", 1)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/assets/<asset_id>/cobranded.pdf")
def asset_cobranded(asset_id):
    """The flyer or proposal cover branded with the partner's logo and name, counted as a download."""
    partner = current_user.partner
    asset = assets.load_for_partner(partner, asset_id)
    if not assets.is_cobranded(asset):
        abort(404)
    pdf = assets_pdf.cobranded_pdf(asset, partner)
    assets.record_download(asset, partner=partner, actor=current_user, cobranded=True)
    db.session.commit()
    response = make_response(pdf)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = assets_pdf.content_disposition(asset, partner)
    response.headers["Cache-Control"] = "private, no-store"
    return response
