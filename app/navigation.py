"""The sidebar of each portal. An entry whose endpoint does not exist is not shown."""

NAV = {
    "cp": [
        ("Dashboard", "cp.dashboard"),
        ("Categories", "cp.categories"),
        ("Originated leads", "cp.leads_originated"),
        ("Assigned leads", "cp.leads_assigned"),
        ("Kanban", "cp.leads_kanban"),
        ("Commissions", "cp.commissions"),
        ("Statement", "cp.statement"),
        ("Company profile", "cp.profile"),
    ],
    "admin": [
        ("Dashboard", "admin.dashboard"),
        ("Channel partners", "admin.partners"),
        ("Categories", "admin.categories"),
        ("Leads", "admin.leads"),
        ("Kanban", "admin.leads_kanban"),
        ("Commissions", "admin.commissions"),
        ("Platform fees", "admin.platform_fees"),
        ("Announcements", "admin.announcements"),
        ("Exports", "admin.exports"),
        ("Audit log", "admin.audit_log"),
    ],
    "superadmin": [
        ("Income", "superadmin.dashboard"),
        ("Settlements", "superadmin.settlements"),
        ("Outstanding fees", "superadmin.outstanding"),
        ("All leads", "superadmin.leads"),
        ("Channel partners", "superadmin.partners"),
        ("Reports", "superadmin.reports"),
        ("Analytics", "superadmin.analytics"),
        ("Audit log", "superadmin.audit_log"),
    ],
}


def register_navigation(app) -> None:
    @app.context_processor
    def navigation():
        def nav_items(portal: str):
            return [(label, endpoint) for label, endpoint in NAV[portal] if endpoint in app.view_functions]

        return {"nav_items": nav_items}
