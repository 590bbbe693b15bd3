"""What an uploaded file may be: its name, its size, and its type by content AND extension together."""

import io
import struct
import unicodedata
import warnings
import zipfile
import zlib
from dataclasses import dataclass


class UploadRejected(Exception):
    """An upload that is refused; the message is safe to show beside the field."""


@dataclass(frozen=True)
class FileType:
    extensions: tuple[str, ...]
    group: str  # image | pdf | document
    content_type: str


TYPES = {
    "jpeg": FileType(("jpg", "jpeg"), "image", "image/jpeg"),
    "png": FileType(("png",), "image", "image/png"),
    "webp": FileType(("webp",), "image", "image/webp"),
    "pdf": FileType(("pdf",), "pdf", "application/pdf"),
    "docx": FileType(("docx",), "document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": FileType(("xlsx",), "document", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": FileType(
        ("pptx",), "document", "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ),
    "doc": FileType(("doc",), "document", "application/msword"),
    "xls": FileType(("xls",), "document", "application/vnd.ms-excel"),
    "csv": FileType(("csv",), "document", "text/csv"),
    "txt": FileType(("txt",), "document", "text/plain"),
}
TYPE_BY_EXTENSION = {ext: key for key, t in TYPES.items() for ext in t.extensions}
GROUP_LABELS = {"image": "JPEG, PNG or WebP images", "pdf": "PDF files", "document": "Office documents, CSV or text"}
# Inner extensions that make a name like "invoice.pdf.exe" or "photo.php.jpg" suspicious.
RISKY_EXTENSIONS = {
    "exe", "com", "bat", "cmd", "scr", "msi", "dll", "js", "mjs", "vbs", "ps1", "sh", "php", "phtml", "py",
    "pl", "cgi", "asp", "aspx", "jsp", "jar", "html", "htm", "svg", "xhtml", "hta",
}  # fmt: skip
OOXML_FOLDER = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What checking one upload may cost, all read from headers before anything is decoded or unpacked.

    The defaults mirror config.py (MAX_IMAGE_*, MAX_ARCHIVE_*); storage passes the configured values.
    """

    image_pixels: int = 40_000_000  # width x height x frames
    image_decode_bytes: int = 128 * MB  # what decoding the first frame would allocate
    image_frames: int = 100
    image_metadata_bytes: int = 2 * MB  # PNG text, ICC and Exif chunks, once inflated
    archive_unpacked_bytes: int = 100 * MB  # sum of the sizes an Office document's zip directory declares
    archive_entries: int = 5000
    archive_ratio: int = 500  # unpacked : packed, per part of more than 1 MB


DEFAULT_LIMITS = Limits()
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_NAME = 200


def allowed_extensions(allowed) -> list[str]:
    return sorted(ext for ext, key in TYPE_BY_EXTENSION.items() if TYPES[key].group in allowed)


def accept_attribute(allowed) -> str:
    """The value for an <input type=file accept=...> matching `allowed`."""
    return ",".join("." + ext for ext in allowed_extensions(allowed))


def describe(allowed) -> str:
    return ", ".join(GROUP_LABELS[g] for g in allowed)


def clean_name(raw: str | None) -> tuple[str, str]:
    """A safe display name and its lower-case extension; refuses paths, hidden and double-extension names."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if not name:
        raise UploadRejected("The file has no name.")
    if "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise UploadRejected("The file name must not contain a path. Rename the file and try again.")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    if name.startswith("."):
        raise UploadRejected("The file name must not start with a dot.")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext:
        raise UploadRejected("The file name needs an extension such as .pdf or .jpg.")
    ext = ext.lower()
    inner = {part.lower() for part in stem.split(".")[1:]}
    if inner & (RISKY_EXTENSIONS | set(TYPE_BY_EXTENSION)):
        raise UploadRejected("File names with two extensions (like report.pdf.exe) are not allowed.")
    if len(name) > MAX_NAME:
        name = stem[: MAX_NAME - len(ext) - 1] + "." + ext
    return name, ext


def sniff(head: bytes) -> str | None:
    """The type key that the first bytes announce, or None. Zip and OLE give only the family."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    return None


def _is_plain_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def magic_matches(type_key: str, head: bytes) -> bool:
    """Do the first bytes fit the type the extension claims? (The cheap check also used on S3 uploads.)"""
    found = sniff(head)
    if type_key in {"docx", "xlsx", "pptx"}:
        return found == "zip"
    if type_key in {"doc", "xls"}:
        return found == "ole"
    if type_key in {"csv", "txt"}:
        return found is None and b"\x00" not in head
    return found == type_key


def _too_many_pixels(limits: Limits) -> UploadRejected:
    return UploadRejected(
        f"The image is too large in pixels (the limit is {limits.image_pixels / 1e6:g} megapixels). "
        "Save it at a smaller size and upload it again."
    )


def _inflated_size(stream: bytes, budget: int) -> int:
    """How many bytes a zlib stream inflates to, counting no further than budget + 1 (so never more memory)."""
    return len(zlib.decompressobj().decompress(stream, max(budget, 0) + 1))


def _png_metadata_size(kind: bytes, body: bytes, budget: int) -> int:
    """The inflated size of one PNG text, ICC or Exif chunk (compressed ones inflated only up to `budget`)."""
    if kind in (b"tEXt", b"eXIf"):
        return len(body)
    keyword, _, rest = body.partition(b"\0")
    if kind in (b"zTXt", b"iCCP"):
        return _inflated_size(rest[1:], budget)
    compressed, rest = rest[:1] == b"\1", rest[2:]  # iTXt: flag, method, language\0, translated keyword\0, text
    text = rest.split(b"\0", 2)[-1]
    return _inflated_size(text, budget) if compressed else len(text)


def _check_png_chunks(data: bytes, limits: Limits) -> None:
    """Walk the PNG's chunks (lengths only, no pixel data inflated): refuse text/ICC bombs and a truncated file.

    Pillow inflates text chunks while it opens the file (up to 64 MB of them); this runs first.
    """
    pos, budget = len(PNG_MAGIC), limits.image_metadata_bytes
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            break  # truncated: Pillow's verify() says so in the words the user sees for any damaged image
        if kind in (b"tEXt", b"zTXt", b"iTXt", b"iCCP", b"eXIf"):
            budget -= _png_metadata_size(kind, body, budget)
            if budget < 0:
                raise UploadRejected(
                    f"The image carries too much embedded text or colour-profile data (the limit is "
                    f"{limits.image_metadata_bytes // MB} MB). Export it again without metadata."
                )
        if kind == b"IEND":
            return
        pos += 12 + length


def _decode_cost(image) -> int:
    """Bytes that decoding the (first frame of the) opened image allocates, from its header alone.

    A JPEG is decoded at 1/8 scale (see _check_image), but libjpeg keeps every DCT coefficient of a
    progressive one (2 bytes each, per component as sampled) whatever the scale.
    """
    width, height = image.size
    per_pixel = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    if image.format != "JPEG":
        return width * height * per_pixel
    cost = -(-width // 8) * -(-height // 8) * per_pixel
    if image.info.get("progressive") or image.info.get("progression"):
        layers = getattr(image, "layer", None) or [(None, 1, 1, None)]
        max_h, max_v = max(layer[1] for layer in layers), max(layer[2] for layer in layers)
        cost += sum(2 * width * height * layer[1] * layer[2] // (max_h * max_v) for layer in layers)
    return cost


def _check_header(image, limits: Limits) -> None:
    """Refuse by what the header says: pixels over all frames, frame count. Nothing has been decoded yet."""
    width, height = image.size
    frames = getattr(image, "n_frames", 1)  # from the header for PNG (acTL), WebP and JPEG (MPO)
    if frames > limits.image_frames:
        raise UploadRejected(
            f"The animated image has too many frames ({frames:,}; the limit is {limits.image_frames}). "
            "Upload a still image."
        )
    if width * height * frames > limits.image_pixels:
        raise _too_many_pixels(limits)


def _check_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """A real, complete image whose decoding is affordable.

    Image.open reads only the header, so size, mode and frame count are checked against `limits` before
    any pixel is decoded. A JPEG is then decoded at 1/8 scale (draft mode): libjpeg still reads every
    byte, so a truncated file is caught, for 1/64 of the memory.
    """
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if data.startswith(PNG_MAGIC):
        try:
            _check_png_chunks(data, limits)
        except zlib.error:
            raise UploadRejected("The image is damaged or incomplete. Please upload it again.") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limits are the stricter ones
            with Image.open(io.BytesIO(data)) as image:
                _check_header(image, limits)
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                if _decode_cost(image) > limits.image_decode_bytes:
                    raise _too_many_pixels(limits)
                if image.format == "JPEG":
                    image.draft(image.mode, (1, 1))  # the smallest scale libjpeg offers: 1/8
                image.load()  # verify() misses truncated pixel data; decoding it all does not
    except Image.DecompressionBombError:
        raise _too_many_pixels(limits) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error):
        raise UploadRejected("The image is damaged or incomplete. Please upload it again.") from None


def _check_ooxml(type_key: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """A real Office document whose zip would unpack to a sane size, judged by the sizes its directory
    declares (nothing is unpacked here): a zip bomb is refused before anything (an import, a preview) opens it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRejected("The document is damaged or incomplete.") from None
    if len(parts) > limits.archive_entries:
        raise UploadRejected(f"The document has too many parts ({len(parts):,}); it cannot be accepted.")
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.archive_unpacked_bytes:
        raise UploadRejected(
            f"The document would unpack to {unpacked / MB:,.0f} MB (the limit is "
            f"{limits.archive_unpacked_bytes // MB} MB). It cannot be accepted."
        )
    for part in parts:
        if part.file_size > MB and part.file_size > limits.archive_ratio * max(part.compress_size, 1):
            raise UploadRejected(
                f"The document is compressed suspiciously tightly: one part would unpack to "
                f"{part.file_size / MB:,.0f} MB from {part.compress_size / 1024:,.0f} KB. It cannot be accepted."
            )
    names = [part.filename for part in parts]
    folder = OOXML_FOLDER[type_key]
    if "[Content_Types].xml" not in names or not any(n.startswith(folder) for n in names):
        raise UploadRejected(f"The file's content is not a .{type_key} document.")


def check_content(data: bytes, ext: str, allowed, max_bytes: int, limits: Limits = DEFAULT_LIMITS) -> FileType:
    """Validate size and type (and what checking it would cost, see Limits); returns the FileType or raises
    UploadRejected."""
    if not data:
        raise UploadRejected("The file is empty.")
    if len(data) > max_bytes:
        raise UploadRejected(f"The file is too large (the limit is {max_bytes // (1024 * 1024)} MB).")
    type_key = TYPE_BY_EXTENSION.get(ext)
    if type_key is None or TYPES[type_key].group not in allowed:
        raise UploadRejected(f"This type of file is not accepted. Allowed: {describe(allowed)}.")
    if not magic_matches(type_key, data[:64]):
        raise UploadRejected(f"The file's content does not match its .{ext} extension.")
    file_type = TYPES[type_key]
    if file_type.group == "image":
        _check_image(data, limits)
    elif type_key == "pdf" and b"%%EOF" not in data[-2048:]:
        raise UploadRejected("The PDF is incomplete. Please upload it again.")
    elif type_key in OOXML_FOLDER:
        _check_ooxml(type_key, data, limits)
    elif type_key in {"csv", "txt"} and not _is_plain_text(data):
        raise UploadRejected(f"The file's content is not plain text, so it cannot be a .{ext} file.")
    return file_type
