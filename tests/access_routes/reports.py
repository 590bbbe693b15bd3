"""Dashboards, reports, analytics and exports (issue 7)."""

from tests.access_table import admin_only, cp_only, super_only

ROUTES = {
    "GET cp.statement": ("/cp/statement", cp_only()),
    "GET cp.statement_csv": ("/cp/statement.csv", cp_only()),
    "GET cp.statement_pdf": ("/cp/statement.pdf", cp_only()),
    "GET admin.exports": ("/admin/exports", admin_only()),
    "GET admin.export_commissions": ("/admin/exports/commissions.csv", admin_only()),
    "GET admin.export_platform_fees": ("/admin/exports/platform-fees.csv", admin_only()),
    "GET superadmin.reports": ("/super/reports", super_only()),
    "GET superadmin.reports_csv": ("/super/reports/export.csv", super_only()),
    "POST superadmin.reports_pdf": ("/super/reports/export.pdf", super_only()),
    "GET superadmin.report_export": ("/super/reports/exports/{report_export}", super_only()),
    "GET superadmin.analytics": ("/super/analytics", super_only()),
    "GET superadmin.analytics_chart_svg": ("/super/analytics/charts/revenue.svg", super_only()),
    "GET superadmin.analytics_pdf": ("/super/analytics/export.pdf", super_only()),
}
