"""The sidebar of each portal. An entry whose endpoint does not exist is not shown."""

from functools import lru_cache

from flask import request, url_for
from flask_login import current_user

NAV = {
    "cp": [
        ("Dashboard", "cp.dashboard"),
        ("Categories", "cp.categories"),
        ("Originated leads", "cp.leads_originated"),
        ("Imports", "cp.imports"),
        ("Assigned leads", "cp.leads_assigned"),
        ("Referral links", "cp.links"),
        ("Marketing assets", "cp.assets_page"),
        ("Kanban", "cp.leads_kanban"),
        ("Commissions", "cp.commissions"),
        ("Lead credits", "cp.credits"),
        ("Statement", "cp.statement"),
        ("Company profile", "cp.profile"),
        ("Team", "cp.team_page"),
        ("Training", "cp.training"),
        ("Activity", "cp.activity_page"),
        ("Integrations", "cp.integrations"),
    ],
    "admin": [
        ("Dashboard", "admin.dashboard"),
        ("Channel partners", "admin.partners"),
        ("Categories", "admin.categories"),
        ("Leads", "admin.leads"),
        ("Imports", "admin.imports"),
        ("Review queue", "admin.review_queue_page"),
        ("Kanban", "admin.leads_kanban"),
        ("Commissions", "admin.commissions"),
        ("Lead credits", "admin.credits"),
        ("Platform fees", "admin.platform_fees"),
        ("Announcements", "admin.announcements"),
        ("Training", "admin.training_page"),
        ("Marketing assets", "admin.assets_admin"),
        ("Exports", "admin.exports"),
        ("API keys", "admin.api_keys"),
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
        ("Staff", "superadmin.staff_list"),
        ("Dev mailbox", "superadmin.mailbox"),  # development only (shown_in_nav)
    ],
}


def _shown(app, endpoint: str) -> bool:
    """A page may hide its entry where it does not apply (the dev mailbox outside development)."""
    shown = getattr(app.view_functions[endpoint], "shown_in_nav", None)
    return shown is None or shown(app)


def register_navigation(app) -> None:
    @lru_cache(maxsize=64)
    def portal_links(portal: str, _host: str, _script_root: str, _scheme: str) -> tuple:
        # A URL depends only on the endpoint and where the app is served (the arguments after the portal).
        return tuple(
            (label, endpoint, url_for(endpoint))
            for label, endpoint in NAV[portal]
            if endpoint in app.view_functions and _shown(app, endpoint)
        )

    def nav_items(portal: str) -> tuple:
        """The portal's sidebar as (label, endpoint, url), built once per host rather than on every page."""
        links = portal_links(portal, request.host, request.script_root, request.scheme)
        role = getattr(current_user, "member_role", None)
        if role is None:
            return links
        # A partner's member sees only the pages its role opens (the owner's team page, for one).
        return tuple(link for link in links if role in getattr(app.view_functions[link[1]], "member_roles", (role,)))

    app.jinja_env.globals["nav_items"] = nav_items
