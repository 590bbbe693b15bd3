"""Lead imports for the route walk: world cp's uploaded import ("lead_import", waiting for its mapping) and a
finished one with a rejected-rows CSV ("done_import")."""

import hashlib

from app.extensions import db
from app.files import storage
from app.leads import imports
from app.models import Category, LeadImport

CSV = b"First name,Last name,Email\nAda,Lovelace,ada@example.com\n,,bad\n"


def _import(world, category, status, **extra):
    cp = world["partners"]["cp"]
    stored = storage.save_bytes(CSV, imports.FILE_KIND, "leads.csv", "text/csv", actor=cp.user, cp_id=cp.id)
    imp = LeadImport(
        created_by=cp.user.id,
        partner_id=cp.id,
        category_id=category.id,
        file_id=stored.id,
        filename="leads.csv",
        file_sha256=hashlib.sha256(CSV).hexdigest(),
        headers=["First name", "Last name", "Email"],
        mapping={"0": "first_name", "1": "last_name", "2": "contact_email"},
        status=status,
        total_rows=2,
        **extra,
    )
    db.session.add(imp)
    db.session.flush()
    return imp


def add(world):
    category = db.session.scalar(db.select(Category).limit(1))
    uploaded = _import(world, category, "uploaded")
    rejected = storage.save_bytes(b"First name,error\n,bad\n", imports.FILE_KIND, "leads-rejected.csv", "text/csv")
    done = _import(
        world, category, "done", processed_rows=2, created_count=1, rejected_count=1, rejected_file_id=rejected.id
    )
    world["ids"].update(lead_import=uploaded.id, done_import=done.id)
