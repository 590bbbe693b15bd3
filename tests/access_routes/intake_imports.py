"""Bulk lead import (issue 18 item 7): admins, and a partner's owner and manager for their own imports."""

from tests.access_table import expect

IMPORT = "/imports/{lead_import}"


def partner_import(ok=200, other=404) -> dict:
    """A partner's import: its owner and manager; another partner gets 404; a viewer 403; staff see all."""
    return expect(cp=ok, other=other, manager=ok, viewer=403)


ROUTES = {
    "GET admin.imports": ("/admin/imports", expect(admin=200)),
    "POST admin.import_upload": ("/admin/imports", expect(admin=422)),
    "GET admin.import_detail": ("/admin" + IMPORT, expect(admin=200)),
    "GET admin.import_preview": ("/admin" + IMPORT + "/preview", expect(admin=200)),
    "POST admin.import_start": ("/admin" + IMPORT + "/start", expect(admin=422)),
    "GET admin.import_progress": ("/admin" + IMPORT + "/progress", expect(admin=200)),
    "GET admin.import_rejected": ("/admin/imports/{done_import}/rejected.csv", expect(admin=200)),
    "GET cp.imports": ("/cp/imports", partner_import(other=200)),
    "POST cp.import_upload": ("/cp/imports", partner_import(422, other=422)),
    "GET cp.import_detail": ("/cp" + IMPORT, partner_import()),
    "GET cp.import_preview": ("/cp" + IMPORT + "/preview", partner_import()),
    "POST cp.import_start": ("/cp" + IMPORT + "/start", partner_import(422)),
    "GET cp.import_progress": ("/cp" + IMPORT + "/progress", partner_import()),
    "GET cp.import_rejected": ("/cp/imports/{done_import}/rejected.csv", partner_import()),
}
