"""The partner's activity feed (/cp/activity): who changed what, from the audit log (app/partners/activity.py)."""

from flask import request
from flask_login import current_user

from app.audit import queries as audit_queries
from app.partners import activity
from app.portals.cp import bp
from app.validators import query_page
from app.web import render


@bp.get("/activity")
def activity_page():
    pagination = activity.feed(current_user.partner, query_page(request.args))
    return render(
        "cp/activity/page.html",
        partial="_partials/partner_activity.html",
        pagination=pagination,
        diff=audit_queries.diff,
        page_endpoint="cp.activity_page",
    )
