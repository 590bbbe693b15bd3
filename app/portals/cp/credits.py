"""A partner's origination credits (SPEC 9.2): what it earned for the leads it brought in, by status, read-only.
Every member reads them (the portal's default for GETs)."""

from flask import request
from flask_login import current_user

from app.money import credit_queries
from app.portals.cp import bp
from app.validators import query_page
from app.web import render


@bp.get("/credits")
def credits():
    partner_id = current_user.partner.id
    status = request.args.get("status") or ""
    status = status if status in credit_queries.STATUS_LABELS else ""
    return render(
        "cp/credits/page.html",
        partial="cp/credits/partials/_table.html",
        pagination=credit_queries.credits_page(query_page(request.args), partner_id, status or None),
        totals=credit_queries.totals(partner_id),
        labels=credit_queries.STATUS_LABELS,
        status_filter=status,
    )
