"""Permission rows of the audit log pages (issue 8)."""

from tests.access_table import admin_only, super_only

ROUTES = {
    "GET admin.audit_log": ("/admin/audit", admin_only()),
    "GET superadmin.audit_log": ("/super/audit", super_only()),
}
