"""Co-branded PDFs of the asset library: the partner's logo (when it has one) and company name on every page.

A flyer (an image, see assets_files.EXTENSIONS) is laid out on an A4 page under the partner's band; a proposal
template gets a branded cover sheet (title, description, "prepared by" and the partner's contact details) to put in
front of the template. The logo is re-encoded from its pixels first, so no EXIF a partner's logo carries ends up in
the PDF.
"""

import io
from urllib.parse import quote
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer

from app.enablement.assets_files import png_without_metadata
from app.extensions import db
from app.files import storage
from app.models import ChannelPartner, StoredFile
from app.models.assets import MarketingAsset
from app.money.receipts import PLATFORM_NAME, _register_fonts

BAND = 28 * mm  # the partner's band at the top of each page
MARGIN = 18 * mm
LOGO_BOX = (40 * mm, 18 * mm)


def _logo(partner: ChannelPartner) -> ImageReader | None:
    if partner.logo_file_id is None:
        return None
    stored = db.session.get(StoredFile, partner.logo_file_id)
    if stored is None or not stored.is_image:
        return None
    try:
        return ImageReader(io.BytesIO(png_without_metadata(storage.read_bytes(stored))))
    except (OSError, ValueError):  # a logo whose bytes are gone: the name alone, as for a partner without one
        return None


def _fit(width: float, height: float, box_w: float, box_h: float) -> tuple[float, float]:
    scale = min(box_w / width, box_h / height)
    return width * scale, height * scale


def _contact(partner: ChannelPartner) -> str:
    parts = [partner.contact_phone, partner.website, partner.user.email if partner.user else None, partner.address]
    return "  ·  ".join(p for p in parts if p)


class _Branding:
    """Draws the partner's band (logo, company name) and footer (contact details) on each page."""

    def __init__(self, partner: ChannelPartner, fonts: tuple[str, str]):
        self.partner, self.regular, self.bold = partner, *fonts
        self.logo = _logo(partner)

    def __call__(self, canvas, doc) -> None:
        width, height = A4
        canvas.saveState()
        canvas.setFillColor(colors.HexColor("#f1f5f9"))
        canvas.rect(0, height - BAND, width, BAND, stroke=0, fill=1)
        x = MARGIN
        if self.logo is not None:
            w, h = _fit(*self.logo.getSize(), *LOGO_BOX)
            canvas.drawImage(self.logo, x, height - BAND / 2 - h / 2, w, h, mask="auto")
            x += w + 6 * mm
        canvas.setFillColor(colors.HexColor("#0f172a"))
        canvas.setFont(self.bold, 16)
        canvas.drawString(x, height - BAND / 2 - 5, self.partner.company_name)
        canvas.setFont(self.regular, 8)
        canvas.setFillColor(colors.HexColor("#475569"))
        canvas.drawString(MARGIN, 10 * mm, _contact(self.partner)[:140])
        canvas.drawRightString(width - MARGIN, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()


def _flyer_story(asset: MarketingAsset, frame_w: float, frame_h: float) -> list:
    data = storage.read_bytes(asset.file)
    reader = ImageReader(io.BytesIO(data))
    w, h = _fit(*reader.getSize(), frame_w, frame_h)
    return [Image(io.BytesIO(data), width=w, height=h)]


def _cover_story(asset: MarketingAsset, partner: ChannelPartner, fonts: tuple[str, str]) -> list:
    regular, bold = fonts
    title = ParagraphStyle("title", fontName=bold, fontSize=24, leading=30, spaceAfter=8)
    text = ParagraphStyle("text", fontName=regular, fontSize=11, leading=16, spaceAfter=6)
    small = ParagraphStyle("small", parent=text, fontSize=9, textColor=colors.grey)
    story = [Spacer(1, 30 * mm), Paragraph(escape(asset.title), title)]
    story.append(Paragraph(escape(f"Prepared by {partner.company_name}"), text))
    for block in (asset.description or "").split("\n\n"):
        if block.strip():
            story.append(Paragraph(escape(block.strip()).replace("\n", "<br/>"), text))
    story += [Spacer(1, 10 * mm), Paragraph(escape(_contact(partner)), small)]
    return story


def cobranded_pdf(asset: MarketingAsset, partner: ChannelPartner) -> bytes:
    """The asset branded for `partner`: its logo (if any) and name on every page. Returns the PDF's bytes."""
    fonts = _register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{asset.title} — {partner.company_name}",
        author=partner.company_name,
        creator=PLATFORM_NAME,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=BAND + 8 * mm,
        bottomMargin=20 * mm,
    )
    if asset.file.is_image:
        story = _flyer_story(asset, doc.width - 14, doc.height - 14)  # the frame pads 6 pt on each side
    else:
        story = _cover_story(asset, partner, fonts)
    branding = _Branding(partner, fonts)
    doc.build(story, onFirstPage=branding, onLaterPages=branding)
    return buffer.getvalue()


def content_disposition(asset: MarketingAsset, partner: ChannelPartner) -> str:
    """attachment; an ASCII filename for old clients and the UTF-8 one (RFC 5987) for the rest: "Łódź" stays."""
    name = f"{asset.title} - {partner.company_name}"[:120].strip() + ".pdf"
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_ .") else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
