"""The audit log for admins (app/portals/audit_views.py)."""

from app.portals import audit_views
from app.portals.admin import bp

audit_views.register(bp, "admin/audit/page.html")
