"""The audit log for the super admin: the same read-only page as the admins'."""

from app.portals.admin.audit import audit_page
from app.portals.superadmin import bp


@bp.get("/audit")
def audit_log():
    return audit_page("superadmin.audit_log", "superadmin/audit/page.html")
