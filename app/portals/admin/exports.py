"""Admin CSV exports (/admin/exports): commission transactions and platform fees, streamed."""

from dataclasses import replace

from flask import request

from app.portals.admin import bp
from app.reporting import exports, reports
from app.web import render


def export_filters() -> reports.ReportFilters:
    """Date range, partner, category and transaction status; without a status, void transactions are left out."""
    filters = reports.filters_from_args(request.args)
    return replace(filters, stage=None, commission_only=not filters.tx_status)


@bp.get("/exports", endpoint="exports")
def exports_page():
    filters = export_filters()
    return render(
        "admin/exports/page.html",
        params=reports.filters_to_params(filters),
        totals=reports.report_totals(filters),
        **reports.filter_choices(),
    )


@bp.get("/exports/commissions.csv")
def export_commissions():
    filename = exports.dated_filename("commissions", "csv")
    return exports.csv_response(reports.report_select(export_filters()), exports.COMMISSION_COLUMNS, filename)


@bp.get("/exports/platform-fees.csv")
def export_platform_fees():
    filename = exports.dated_filename("platform-fees", "csv")
    return exports.csv_response(reports.report_select(export_filters()), exports.FEE_COLUMNS, filename)
