"""Catalog records for the route walk: a category with an image, cp's content, a lead cp originated, files."""

import io

from PIL import Image

from app.extensions import db
from app.files import storage
from app.models import CategoryImage, ContentImage, CpCategoryContent, LeadEvidence
from tests import factories


def png_bytes(colour=(30, 120, 200), size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def add(world):
    cp, admin = world["partners"]["cp"], world["users"]["admin"]
    category = factories.make_category("World Category", description="Solar panels for offices.")
    image_file = storage.save_bytes(png_bytes(), "category_image", "panel.png", "image/png", actor=admin)
    image = CategoryImage(category_id=category.id, file_id=image_file.id, sort_order=0)
    content = CpCategoryContent(cp_id=cp.id, category_id=category.id, description="Our install team.", status="draft")
    db.session.add_all([image, content])
    db.session.flush()
    content_file = storage.save_bytes(png_bytes((200, 90, 30)), "content_image", "team.png", "image/png", cp_id=cp.id)
    content_image = ContentImage(content_id=content.id, file_id=content_file.id, sort_order=0)
    db.session.add(content_image)
    originated = factories.make_lead(originator=cp, title="Originated by cp", category_id=category.id)
    assigned = factories.make_lead(assignee=cp, title="Evidence holder")
    evidence_file = storage.save_bytes(b"%PDF-1.4\n%%EOF\n", "evidence", "quote.pdf", "application/pdf", cp_id=cp.id)
    db.session.add(LeadEvidence(lead_id=assigned.id, file_id=evidence_file.id, file_type="pdf"))
    db.session.flush()
    world["ids"].update(
        category=category.id,
        category_image=image.id,
        category_file=image_file.id,
        content=content.id,
        content_image=content_image.id,
        originated_lead=originated.id,
        evidence_file=evidence_file.id,
    )
