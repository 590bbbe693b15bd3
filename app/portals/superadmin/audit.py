"""The audit log for the super admin: the same read-only page as the admins' (app/portals/audit_views.py)."""

from app.portals import audit_views
from app.portals.superadmin import bp

audit_views.register(bp, "superadmin/audit/page.html")
