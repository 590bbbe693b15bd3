"""The channel partner's commission statement (/cp/statement): its own rows only, as a page, CSV or PDF."""

from flask import current_app, request
from flask_login import current_user

from app.portals.cp import bp
from app.reporting import exports, reports
from app.validators import query_page
from app.web import render

PAGE_SIZE = 50


def statement_filters() -> reports.ReportFilters:
    """Only a date range is read from the request; the partner is always the current user's own."""
    dates = reports.filters_from_args({k: request.args.get(k) for k in ("date_from", "date_to")})
    return reports.ReportFilters(
        date_from=dates.date_from, date_to=dates.date_to, cp_id=current_user.partner.id, commission_only=True
    )


def _params(filters: reports.ReportFilters) -> dict:
    return {k: v for k, v in reports.filters_to_params(filters).items() if k in ("date_from", "date_to")}


@bp.get("/statement")
def statement():
    filters = statement_filters()
    totals = reports.report_totals(filters)
    page = reports.report_page(filters, query_page(request.args), PAGE_SIZE, total=totals["rows"])
    return render(
        "cp/exports/page.html",
        partial="cp/exports/partials/_statement.html",
        filters=filters,
        params=_params(filters),
        totals=totals,
        pagination=page,
        period=exports.period_text(filters.date_from, filters.date_to),
    )


@bp.get("/statement.csv")
def statement_csv():
    filters = statement_filters()
    filename = exports.dated_filename("commission-statement", "csv")
    return exports.csv_response(reports.report_select(filters), exports.STATEMENT_COLUMNS, filename)


@bp.get("/statement.pdf")
def statement_pdf():
    filters = statement_filters()
    totals = reports.report_totals(filters)
    partner = current_user.partner
    pdf = exports.report_pdf(
        reports.report_rows(filters),
        exports.STATEMENT_COLUMNS,
        title=f"Commission statement · {partner.company_name}",
        filters=[("Period", exports.period_text(filters.date_from, filters.date_to))],
        totals=totals,
        summary=exports.totals_summary(totals, current_app.config["CURRENCY_SYMBOL"]),
    )
    return exports.pdf_download(pdf, exports.dated_filename("commission-statement", "pdf"))
