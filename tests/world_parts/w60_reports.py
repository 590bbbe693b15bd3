"""Reports for the route walk: a finished commission-report PDF export requested by the super admin."""

from app.extensions import db
from app.files import storage
from app.models import ReportExport


def add(world):
    requester = world["users"]["super"]
    stored = storage.save_bytes(
        b"%PDF-1.4 world report", "report", "commission-report.pdf", "application/pdf", actor=requester
    )
    export = ReportExport(
        requested_by=requester.id,
        kind="commission_report_pdf",
        params={},
        status="done",
        progress=2,
        total=2,
        file_id=stored.id,
    )
    db.session.add(export)
    db.session.flush()
    world["ids"]["report_export"] = export.id
