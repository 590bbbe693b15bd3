"""Bulk import of leads from CSV or XLSX (SPEC 9.2, issue 18 item 7): upload, column mapping, preview, start.

`upload` checks and stores the file, reads its header row, counts its rows and guesses a mapping of columns to
lead fields; `preview` cleans the first rows with the one validator (app.leads.fields.clean) and marks each
valid, invalid or duplicate with its score; `start` saves the mapping and queues the job (app.jobs.imports),
which creates the leads in batches. Files are read as streams of rows, never whole.
"""

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from app.audit import trail as audit
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.files.checks import TYPES, Limits, UploadRejected, check_content, clean_name
from app.jobs.after_commit import on_commit
from app.leads import duplicates, fields, intake, scoring
from app.models import LeadImport

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
EXTENSIONS = ("csv", "xlsx")
# Stored files of imports (the upload and its rejected rows): staff and the importing partner may read them.
FILE_KIND = "lead_import"
SYNONYMS = {
    "first_name": ("first", "firstname", "given name", "forename", "prenom"),
    "last_name": ("last", "lastname", "surname", "family name"),
    "contact_email": ("email", "e-mail", "email address", "e-mail address", "mail"),
    "contact_phone": ("phone", "mobile", "telephone", "tel", "phone number", "cell", "mobile number"),
    "contact_company": ("company", "company name", "organisation", "organization", "business", "employer"),
    "job_title": ("title", "position", "role", "job"),
    "industry": ("sector", "vertical"),
    "address": ("street address", "postal address", "location"),
    "lead_type": ("type",),
    "budget": ("budget range",),
    "timeline": ("timeframe", "time frame", "when"),
    "description": ("notes", "note", "need", "needs", "comments", "comment", "message", "details"),
}


class ImportRefused(Refused):
    """A file or a mapping that cannot be imported; the message says why (422 unless said otherwise)."""

    status = 422


def _key(text: str) -> str:
    """Header comparison: case, spaces, underscores and dashes do not matter."""
    return re.sub(r"[\s_\-.]+", "", str(text).lower())


# --- reading files ---------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed into Excel comes back as 447700900123.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _csv_rows(binary) -> Iterator[list[str]]:
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    sample = text.read(64 * 1024)
    text.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    for row in csv.reader(text, dialect):
        yield [cell.strip() for cell in row]


def _xlsx_rows(binary) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    book = load_workbook(binary, read_only=True, data_only=True)
    try:
        for row in book.worksheets[0].iter_rows(values_only=True):
            yield [_cell(value) for value in row]
    finally:
        book.close()


def read_rows(binary, ext: str) -> Iterator[list[str]]:
    """Every non-blank row of the file (the header first), as lists of text, one at a time."""
    try:
        for row in (_xlsx_rows if ext == "xlsx" else _csv_rows)(binary):
            if any(row):
                yield row
    except (csv.Error, UnicodeDecodeError, ValueError, KeyError, OSError) as exc:
        raise ImportRefused(f"The file could not be read ({type(exc).__name__}).", field="file") from None


@contextmanager
def open_stored(stored_file):
    """The stored file as a binary stream: the file on disk with local storage, else its bytes."""
    path = storage.local_path(stored_file)
    handle = open(path, "rb") if path else io.BytesIO(storage.read_bytes(stored_file))  # noqa: SIM115
    try:
        yield handle
    finally:
        handle.close()


def extension(imp: LeadImport) -> str:
    return imp.filename.rpartition(".")[2].lower()


def data_rows(imp: LeadImport) -> Iterator[list[str]]:
    """The import's rows after the header, streamed from its stored file."""
    with open_stored(imp.file) as handle:
        rows = read_rows(handle, extension(imp))
        next(rows, None)
        yield from rows


# --- mapping ---------------------------------------------------------------------------------


def targets(category) -> list[tuple[str, str]]:
    """(field name, label) of everything a column may be mapped to."""
    return [(spec.name, spec.label) for spec in fields.specs_for(category)]


def auto_map(headers: list[str], category) -> dict[str, str]:
    """{column index: field name} for the headers that name a field (by name, label or synonym)."""
    names = {}
    for spec in fields.specs_for(category):
        words = [spec.name, spec.label, *SYNONYMS.get(spec.name, ())]
        if spec.is_custom:
            words.append(spec.name.removeprefix(fields.CUSTOM_PREFIX))
        for word in words:
            names.setdefault(_key(word), spec.name)
    mapping, used = {}, set()
    for index, header in enumerate(headers):
        target = names.get(_key(header))
        if target and target not in used:
            mapping[str(index)] = target
            used.add(target)
    return mapping


def check_mapping(mapping: dict, headers: list[str], category) -> dict[str, str]:
    """The mapping without skipped columns, or ImportRefused: known targets, each once, names and a contact."""
    known = dict(targets(category))
    clean, seen = {}, {}
    for index, target in mapping.items():
        if not target:
            continue
        if target not in known or not str(index).isdigit() or int(index) >= len(headers):
            raise ImportRefused("The mapping names a field or column that does not exist.", field="mapping")
        if target in seen:
            raise ImportRefused(
                f"“{known[target]}” is chosen for two columns ({headers[seen[target]]} and {headers[int(index)]}).",
                field="mapping",
            )
        seen[target] = int(index)
        clean[str(index)] = target
    missing = [known[name] for name in ("first_name", "last_name") if name not in seen]
    if missing:
        raise ImportRefused(f"Choose a column for {' and '.join(missing)}.", field="mapping")
    if "contact_email" not in seen and "contact_phone" not in seen:
        raise ImportRefused("Choose a column for the email or the phone number.", field="mapping")
    return clean


def row_data(row: list[str], mapping: dict) -> dict:
    return {target: row[int(index)] if int(index) < len(row) else "" for index, target in mapping.items()}


def error_text(exc: fields.LeadDataInvalid, labels: dict[str, str]) -> str:
    """A row's errors on one line, each after its field's label (`labels`: dict(targets(category)))."""
    return "; ".join(f"{labels.get(name, name)}: {message}" for name, message in exc.errors.items())


# --- upload ----------------------------------------------------------------------------------


def _unique_headers(row: list[str]) -> list[str]:
    headers, seen = [], {}
    for number, cell in enumerate(row, 1):
        name = cell or f"Column {number}"
        seen[name] = seen.get(name, 0) + 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return headers


def _looks_like_data(headers: list[str]) -> bool:
    return any("@" in h or re.fullmatch(r"[+\d\s().-]{6,}", h) for h in headers)


def _scan(data: bytes, ext: str, category) -> tuple[list[str], int, dict]:
    """(headers, number of rows after the header, guessed mapping), refusing files that cannot be imported."""
    rows = read_rows(io.BytesIO(data), ext)
    first = next(rows, None)
    if first is None:
        raise ImportRefused("The file has no rows: it needs a header row and one row per lead.", field="file")
    headers = _unique_headers(first)
    mapping = auto_map(headers, category)
    if not mapping and _looks_like_data(headers):
        raise ImportRefused(
            "The first row must name the columns (First name, Last name, Email, …); this one looks like a lead.",
            field="file",
        )
    total = 0
    for _row in rows:
        total += 1
        if total > MAX_ROWS:
            raise ImportRefused(f"The file has more than {MAX_ROWS:,} rows: split it into smaller files.", field="file")
    if not total:
        raise ImportRefused("The file has a header row but no leads under it.", field="file")
    return headers, total, mapping


def _read_file(file) -> tuple[str, str, bytes]:
    if file is None or not getattr(file, "filename", None):
        raise ImportRefused("Choose a CSV or XLSX file.", field="file")
    try:
        name, ext = clean_name(file.filename)
        if ext not in EXTENSIONS:
            raise UploadRejected("Upload a .csv or .xlsx file.")
        data = getattr(file, "stream", file).read(MAX_BYTES + 1)
        config = current_app.config
        limits = Limits(archive_unpacked_bytes=int(config["MAX_ARCHIVE_UNPACKED_BYTES"]))
        check_content(data, ext, ("document",), MAX_BYTES, limits)
    except UploadRejected as exc:
        raise ImportRefused(str(exc), field="file") from None
    return name, ext, data


def _claim(file, actor, cp_id):
    """A direct upload's StoredFile (checked by size and magic bytes when it was confirmed), and its bytes."""
    try:
        stored = storage.save_upload(file, FILE_KIND, actor=actor, cp_id=cp_id, allowed=("document",))
    except UploadRejected as exc:
        raise ImportRefused(str(exc), field="file") from None
    ext = stored.original_name.rpartition(".")[2].lower()
    if ext not in EXTENSIONS:
        raise ImportRefused("Upload a .csv or .xlsx file.", field="file")
    return stored, stored.original_name, ext, storage.read_bytes(stored)


def upload(file, *, actor, partner=None, category=None) -> LeadImport:
    """Check and store an uploaded CSV/XLSX (≤ 20 MB, ≤ 100,000 rows), read its headers, guess the mapping.

    `partner` set: a partner's import (its leads, its quota), refused without the capability to originate.
    Raises ImportRefused (422) or intake.IntakeRefused; stores nothing when it raises.
    """
    if partner is not None:
        intake.check_may_originate(partner, 0)
    if category is None:
        raise ImportRefused("Choose the category of the leads.", field="category")
    cp_id = partner.id if partner else None
    if isinstance(file, storage.ClaimedUpload):  # the browser sent it straight to S3 (DirectFileField)
        stored, name, ext, data = _claim(file, actor, cp_id)
        headers, total, mapping = _scan(data, ext, category)
    else:
        name, ext, data = _read_file(file)
        headers, total, mapping = _scan(data, ext, category)
        content_type = "text/csv" if ext == "csv" else TYPES["xlsx"].content_type
        stored = storage.save_bytes(data, FILE_KIND, name, content_type, actor=actor, cp_id=cp_id)
    imp = LeadImport(
        created_by=actor.id if actor else None,
        partner_id=partner.id if partner else None,
        category_id=category.id,
        file_id=stored.id,
        filename=name,
        file_sha256=hashlib.sha256(data).hexdigest(),
        headers=headers,
        mapping=mapping,
        status="uploaded",
        total_rows=total,
    )
    db.session.add(imp)
    db.session.flush()
    audit.record(actor, "lead_import.uploaded", imp, after={"filename": name, "rows": total})
    return imp


# --- preview ---------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    number: int
    cells: list[str]
    status: str = "valid"  # valid | invalid | duplicate
    messages: list[str] = field(default_factory=list)
    score: int | None = None
    duplicate_of: object = None  # a lead id, or the number of an earlier row of the file


def preview(imp: LeadImport, mapping: dict, n: int = 20) -> list[PreviewRow]:
    """The first `n` rows as the job would take them: invalid (with messages), duplicate (of a live lead or of
    an earlier row of the file) or valid, each with its score."""
    category, weights = imp.category, scoring.weights()
    labels = dict(targets(category))
    rows, cleaned = [], []
    for number, row in enumerate(data_rows(imp), 2):
        if len(rows) >= n:
            break
        item = PreviewRow(number, row)
        rows.append(item)
        try:
            clean = fields.clean(row_data(row, mapping), category)
        except fields.LeadDataInvalid as exc:
            item.status, item.messages = "invalid", [error_text(exc, labels)]
            continue
        item.score = scoring.score(clean.filled, category, weights)[0]
        cleaned.append((item, clean.columns.get("email_normalized"), clean.columns.get("phone_e164")))
    emails = {email for _item, email, _phone in cleaned if email}
    phones = {phone for _item, _email, phone in cleaned if phone}
    found, seen = duplicates.matches_for(emails, phones), {}
    for item, email, phone in cleaned:
        keys = [(kind, value) for kind, value in (("email", email), ("phone", phone)) if value]
        in_db = next((found[key] for key in keys if key in found), None)
        in_file = next((seen[key] for key in keys if key in seen), None)
        if in_db or in_file:
            item.status, item.duplicate_of = "duplicate", in_db or in_file
            item.messages = ["Possible duplicate of a recent lead." if in_db else f"Same contact as row {in_file}."]
        for key in keys:
            seen.setdefault(key, item.number)
    return rows


# --- start -----------------------------------------------------------------------------------


def start(imp: LeadImport, mapping: dict, actor, *, queue: bool = True) -> LeadImport:
    """Save the mapping and queue the import job (after the commit). A second submission finds the import no
    longer "uploaded" (a conditional UPDATE) and is refused, so the job is queued once."""
    mapping = check_mapping(mapping, imp.headers, imp.category)
    claimed = db.session.execute(
        sa.update(LeadImport)
        .where(LeadImport.id == imp.id, LeadImport.status == "uploaded")
        .values(status="queued", mapping=mapping)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise ImportRefused("This import has already been started.", field="mapping")
    db.session.refresh(imp)
    audit.record(actor, "lead_import.started", imp, after={"rows": imp.total_rows, "mapping": mapping})
    if queue:
        from app.jobs.queue import enqueue

        import_id = str(imp.id)
        on_commit(db.session, lambda: enqueue("app.jobs.imports.run_import", import_id, retries=1))
    return imp


def visible_imports(partner=None, limit: int = 50) -> list[LeadImport]:
    """The newest imports: a partner's own, or (staff) everyone's."""
    stmt = sa.select(LeadImport).order_by(LeadImport.created_at.desc()).limit(limit)
    if partner is not None:
        stmt = stmt.where(LeadImport.partner_id == partner.id)
    return list(db.session.scalars(stmt))
