"""/api/docs: the API reference, Swagger UI (vendored under static/vendor, no CDN) over /api/v1/openapi.json."""

from flask import Blueprint, render_template, url_for

from app.access import public

bp = Blueprint("api_reference", __name__)


@bp.get("/api/docs", endpoint="docs")
@public
def docs():
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))
