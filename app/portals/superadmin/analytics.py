"""Platform analytics (/super/analytics): charts over a date range, grouped by week or month, and their exports."""

from dataclasses import replace

from flask import Response, abort, current_app, request, url_for

from app.portals.superadmin import bp
from app.reporting import analytics, charts, exports
from app.web import render


def _charts(rng: analytics.Range) -> list[charts.Chart]:
    return [
        replace(
            chart,
            width=1000 if chart.key == "revenue" else 600,  # revenue spans the row; the others are half
            download_url=url_for("superadmin.analytics_chart_svg", name=chart.key, **rng.params()),
        )
        for chart in analytics.all_charts(rng, current_app.config["CURRENCY_SYMBOL"])
    ]


@bp.get("/analytics", endpoint="analytics")
def analytics_page():
    rng = analytics.range_from_args(request.args)
    return render(
        "superadmin/analytics/page.html",
        partial="superadmin/analytics/partials/_charts.html",
        rng=rng,
        charts=_charts(rng),
    )


@bp.get("/analytics/charts/<name>.svg")
def analytics_chart_svg(name):
    if name not in analytics.CHARTS:
        abort(404)
    rng = analytics.range_from_args(request.args)
    chart = analytics.build(name, rng, current_app.config["CURRENCY_SYMBOL"])
    response = Response(charts.svg_document(chart), mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{rng.date_from}-{rng.date_to}.svg"'
    return response


@bp.get("/analytics/export.pdf")
def analytics_pdf():
    rng = analytics.range_from_args(request.args)
    period = f"{exports.period_text(rng.date_from, rng.date_to)}, by {rng.grouping}"
    pdf = exports.analytics_pdf(_charts(rng), title="Platform analytics", period=period)
    return exports.pdf_download(pdf, exports.dated_filename("analytics", "pdf"))
