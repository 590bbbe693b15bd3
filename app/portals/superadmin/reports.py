"""Commission reports (/super/reports): gross → platform fee → net per lead, filters, totals, CSV and PDF."""

from flask import current_app, redirect, request, url_for
from flask_login import current_user

from app.extensions import db
from app.jobs import queue
from app.jobs import reports as report_jobs
from app.loaders import load_report_export
from app.portals.superadmin import bp
from app.reporting import exports, reports
from app.validators import query_page
from app.web import render

PAGE_SIZE = 50


@bp.get("/reports", endpoint="reports")
def reports_page():
    filters = reports.filters_from_args(request.args)
    totals = reports.report_totals(filters)
    page = reports.report_page(filters, query_page(request.args), PAGE_SIZE, total=totals["rows"])
    return render(
        "superadmin/reports/page.html",
        partial="superadmin/reports/partials/_results.html",
        filters=filters,
        applied=filters.describe(*reports.filter_names(filters)),
        params=reports.filters_to_params(filters),
        totals=totals,
        pagination=page,
        threshold=current_app.config["REPORT_PDF_JOB_THRESHOLD"],
        **reports.filter_choices(),
    )


@bp.get("/reports/export.csv")
def reports_csv():
    filters = reports.filters_from_args(request.args)
    filename = exports.dated_filename("commission-report", "csv")
    return exports.csv_response(reports.report_select(filters), exports.REPORT_COLUMNS, filename)


@bp.post("/reports/export.pdf")
def reports_pdf():
    """Small reports download at once; more rows than REPORT_PDF_JOB_THRESHOLD are built by a background job."""
    filters = reports.filters_from_args(request.form)
    totals = reports.report_totals(filters)
    if totals["rows"] > current_app.config["REPORT_PDF_JOB_THRESHOLD"]:
        export = report_jobs.start_report_pdf(current_user, filters)
        db.session.commit()
        queue.enqueue("app.jobs.reports.build_report_pdf", str(export.id), retries=1)
        return redirect(url_for("superadmin.report_export", export_id=export.id), 303)
    pdf = exports.report_pdf(
        reports.report_rows(filters),
        exports.REPORT_COLUMNS,
        title="Commission report",
        filters=filters.describe(*reports.filter_names(filters)),
        totals=totals,
        summary=exports.totals_summary(totals, current_app.config["CURRENCY_SYMBOL"]),
    )
    return exports.pdf_download(pdf, exports.dated_filename("commission-report", "pdf"))


@bp.get("/reports/exports/<export_id>")
def report_export(export_id):
    export = load_report_export(export_id)
    return render(
        "superadmin/reports/export.html", partial="superadmin/reports/partials/_export_progress.html", export=export
    )
