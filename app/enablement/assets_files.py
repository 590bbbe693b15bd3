"""The files of the asset library: what each asset type accepts, images stored without metadata, thumbnails.

Every upload is checked by app/files/checks.py (name, size, content against extension, the decoding limits) before
Pillow decodes it. An image is then stored re-encoded from its pixels alone: EXIF (GPS included), XMP, ICC and text
chunks are dropped, after the EXIF orientation has been applied so the picture stays upright. HTML email templates
are not a type app/files knows (they are never shown inline anywhere): they are checked here as UTF-8 text and
always handed out as an attachment.
"""

import io
import textwrap
from dataclasses import dataclass

from flask import current_app
from PIL import Image, ImageDraw, ImageFont, ImageOps

from app.files import storage
from app.files.checks import TYPE_BY_EXTENSION, TYPES, UploadRejected, check_content, clean_name

KIND = "marketing_asset"
IMAGES = ("png", "jpg", "jpeg", "webp")
# What each asset type may be, by extension.
EXTENSIONS = {
    "logo": IMAGES,
    "banner": IMAGES,
    "flyer": IMAGES,  # an image, so that the co-branded PDF can carry the flyer itself (assets_pdf.py)
    "email_template": ("html", "txt"),
    "proposal_template": ("pdf", "docx"),
}
HTML_TYPE = "text/html"
THUMBNAIL_SIZE = (480, 320)
SAVE_FORMAT = {"JPEG": ("JPEG", "jpg", "image/jpeg"), "PNG": ("PNG", "png", "image/png")}
SAVE_FORMAT["WEBP"] = ("WEBP", "webp", "image/webp")


@dataclass(frozen=True)
class CleanFile:
    """An upload that passed its checks, ready to store: its display name, bytes and content type."""

    name: str
    data: bytes
    content_type: str

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def accepted(asset_type: str) -> str:
    """The extensions an asset type accepts, for the form's help text: ".png, .jpg, .jpeg, .webp"."""
    return ", ".join("." + ext for ext in EXTENSIONS.get(asset_type, ()))


def accept_attribute() -> str:
    return ",".join(sorted({"." + ext for exts in EXTENSIONS.values() for ext in exts}))


def _check_html(data: bytes, max_bytes: int) -> None:
    if not data:
        raise UploadRejected("The file is empty.")
    if len(data) > max_bytes:
        raise UploadRejected(f"The file is too large (the limit is {max_bytes // (1024 * 1024)} MB).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRejected("An HTML template must be UTF-8 text.") from None
    if "\x00" in text or "<" not in text:
        raise UploadRejected("The file's content is not HTML.")


def check_upload(upload, asset_type: str) -> CleanFile:
    """Check an uploaded werkzeug file for `asset_type` and return what to store (images without metadata).

    Raises UploadRejected with a message to show beside the file field."""
    if upload is None or not getattr(upload, "filename", None):
        raise UploadRejected("Choose a file to upload.")
    name, ext = clean_name(upload.filename)
    allowed = EXTENSIONS.get(asset_type, ())
    if ext not in allowed:
        raise UploadRejected(f"This type of asset accepts {accepted(asset_type) or 'no files'} files.")
    max_bytes = int(current_app.config["MAX_UPLOAD_BYTES"])
    data = getattr(upload, "stream", upload).read(max_bytes + 1)
    if ext == "html":
        _check_html(data, max_bytes)
        return CleanFile(name, data, HTML_TYPE)
    file_type = check_content(data, ext, (TYPES[TYPE_BY_EXTENSION[ext]].group,), max_bytes, storage.upload_limits())
    if file_type.group != "image":
        return CleanFile(name, data, file_type.content_type)
    try:
        clean, content_type = strip_metadata(data)
    except (OSError, ValueError):  # a mode Pillow cannot re-encode: refused like a damaged image
        raise UploadRejected(
            "The image could not be processed. Save it as an ordinary PNG or JPEG and try again."
        ) from None
    return CleanFile(name, clean, content_type)


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding the (upright) pixels of `image` and nothing else: no info, EXIF, ICC or palette text."""
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = "transparency" in image.info or image.mode in ("PA", "RGBa")
        image = image.convert("RGBA" if has_alpha else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def strip_metadata(data: bytes) -> tuple[bytes, str]:
    """Re-encode a checked image from its pixels (first frame): the same format, no metadata. (bytes, type)."""
    with Image.open(io.BytesIO(data)) as image:
        fmt, _ext, content_type = SAVE_FORMAT.get(image.format, SAVE_FORMAT["PNG"])
        clean = _pixels_only(image)
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    buffer = io.BytesIO()
    clean.save(buffer, fmt, **({"quality": 92} if fmt in ("JPEG", "WEBP") else {"optimize": True}))
    return buffer.getvalue(), content_type


def png_without_metadata(data: bytes) -> bytes:
    """Any stored image (a partner's logo may carry EXIF) as a PNG of its pixels alone, for embedding in a PDF."""
    with Image.open(io.BytesIO(data)) as image:
        clean = _pixels_only(image)
    buffer = io.BytesIO()
    clean.save(buffer, "PNG")
    return buffer.getvalue()


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def _card(title: str, label: str) -> Image.Image:
    """A document's thumbnail: a page-like card with its format in large letters and its title."""
    card = Image.new("RGB", THUMBNAIL_SIZE, (241, 245, 249))
    draw = ImageDraw.Draw(card)
    draw.rectangle((150, 24, 330, 296), fill=(255, 255, 255), outline=(148, 163, 184), width=2)
    draw.rectangle((150, 24, 330, 84), fill=(37, 99, 235))
    draw.text((240, 54), label, fill=(255, 255, 255), font=_font(30), anchor="mm")
    for n, line in enumerate(textwrap.wrap(title, 16)[:6]):
        draw.text((240, 112 + n * 26), line, fill=(30, 41, 59), font=_font(16), anchor="mm")
    return card


def thumbnail_bytes(clean: CleanFile, title: str) -> tuple[bytes, str]:
    """The thumbnail of a checked file: a scaled-down image (already without metadata) or a document card."""
    if clean.is_image:
        with Image.open(io.BytesIO(clean.data)) as image:
            image.thumbnail(THUMBNAIL_SIZE)
            small = _pixels_only(image)
    else:
        small = _card(title, clean.name.rpartition(".")[2].upper())
    buffer = io.BytesIO()
    if small.mode in ("RGBA", "LA"):
        small.save(buffer, "PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    small.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue(), "image/jpeg"


def store(clean: CleanFile, title: str, *, actor):
    """Store the checked file and its thumbnail (kind marketing_asset, no partner): (file, thumbnail)."""
    stored = storage.save_bytes(clean.data, KIND, clean.name, clean.content_type, actor=actor)
    thumb, thumb_type = thumbnail_bytes(clean, title)
    stem = clean.name.rpartition(".")[0] or "asset"
    thumb_name = f"{stem}-thumbnail.{'png' if thumb_type == 'image/png' else 'jpg'}"
    return stored, storage.save_bytes(thumb, KIND, thumb_name, thumb_type, actor=actor)
