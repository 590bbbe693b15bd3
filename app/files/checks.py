"""What an uploaded file may be: its name, its size, and its type by content AND extension together."""

import io
import unicodedata
import warnings
import zipfile
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


def _check_image(data: bytes) -> None:
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() misses truncated pixel data; decoding it all does not
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UploadRejected("The image is damaged or incomplete. Please upload it again.") from None


def _check_ooxml(type_key: str, data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRejected("The document is damaged or incomplete.") from None
    folder = OOXML_FOLDER[type_key]
    if "[Content_Types].xml" not in names or not any(n.startswith(folder) for n in names):
        raise UploadRejected(f"The file's content is not a .{type_key} document.")


def check_content(data: bytes, ext: str, allowed, max_bytes: int) -> FileType:
    """Validate size and type; returns the FileType or raises UploadRejected."""
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
        _check_image(data)
    elif type_key == "pdf" and b"%%EOF" not in data[-2048:]:
        raise UploadRejected("The PDF is incomplete. Please upload it again.")
    elif type_key in OOXML_FOLDER:
        _check_ooxml(type_key, data)
    elif type_key in {"csv", "txt"} and not _is_plain_text(data):
        raise UploadRejected(f"The file's content is not plain text, so it cannot be a .{ext} file.")
    return file_type
