"""The bulk-import job (RQ): creates an import's leads in batches, with progress, and its rejected rows' CSV.

Each batch of rows is cleaned with the one validator, checked for duplicates in one query per key kind
(against live leads, and against the earlier rows of the file), then inserted with ONE multi-row INSERT … ON
CONFLICT (intake_key) DO NOTHING, with the leads' activity rows in one more: no ORM object, query,
notification or audit row per lead. The counts are written and committed after every batch.

Safe to run twice: a lead's intake_key is a hash of the originator, the category and the row's cleaned
values, so a re-run (or the same file imported again) creates nothing twice; rows this import already created
count again as created, rows another import created count as skipped.
"""

import csv
import hashlib
import json
import tempfile
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.audit import trail as audit
from app.comms.notifications import notify, path_for
from app.extensions import db
from app.files import storage
from app.leads import duplicates, fields, imports, intake, scoring
from app.models import Lead, LeadActivity, LeadImport, User
from app.models.base import utcnow
from app.reporting.exports import neutralise
from app.reporting.rollups.facts import facts_for, fold
from app.reporting.rollups.store import apply as apply_rollups

BATCH = 1000
LEAD_COLUMNS = (
    "contact_name", "contact_email", "contact_phone", "contact_company", "first_name", "last_name", "job_title",
    "industry", "address", "lead_type", "budget", "timeline", "email_normalized", "phone_e164",
)  # fmt: skip


def intake_key(imp: LeadImport, clean: fields.CleanLead) -> str:
    """The same row (cleaned) for the same originator and category always gives the same key."""
    owner = str(imp.partner_id) if imp.partner_id else "platform"
    values = json.dumps([clean.columns, clean.custom], sort_keys=True, default=str)
    return hashlib.sha256(f"{owner}|{imp.category_id}|{values}".encode()).hexdigest()


class Run:
    """One run of the job over one import: the state kept between batches."""

    def __init__(self, imp: LeadImport):
        self.imp, self.category = imp, imp.category
        self.weights = scoring.weights()
        self.specs = fields.specs_for(self.category)  # built once, not per row
        self.seen: dict[tuple[str, str], uuid.UUID] = {}  # (kind, value) → the file's first lead with it
        self.quota = self._quota()
        self.rejects = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+", newline="")  # noqa: SIM115 (closed by run_import)
        self.writer = csv.writer(self.rejects)
        self.writer.writerow([neutralise(h) for h in [*imp.headers, "error"]])
        self.insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert

    def _quota(self) -> int | None:
        partner = self.imp.partner
        if partner is None:
            return None
        if not partner.cap_originates:
            raise intake.IntakeRefused("The partner may no longer originate leads.")
        left = intake.quota_left(partner)
        if left is None:
            return None
        mine = db.session.scalar(
            sa.select(sa.func.count()).select_from(Lead).where(Lead.import_id == self.imp.id)
        )  # on a re-run, this import's own leads are already counted as used
        return left + mine

    def reject(self, row: list[str], message: str) -> None:
        self.writer.writerow([neutralise(cell) for cell in row] + [neutralise(message)])
        self.imp.rejected_count += 1

    def quota_message(self) -> str:
        return (
            f"Over the quota: the partner's {self.imp.partner.monthly_lead_quota} leads this month are used "
            "(it renews on the 1st, or an admin can raise it)."
        )

    def batch(self, rows: list[list[str]]) -> None:
        imp, now = self.imp, utcnow()
        good = []
        for row in rows:
            try:
                clean = fields.clean(imports.row_data(row, imp.mapping), self.category, self.specs)
            except fields.LeadDataInvalid as exc:
                self.reject(row, imports.error_text(exc, self.category))
                continue
            if self.quota is not None:
                if self.quota <= 0:
                    self.reject(row, self.quota_message())
                    continue
                self.quota -= 1
            good.append(clean)
        emails = {c.columns["email_normalized"] for c in good if c.columns.get("email_normalized")}
        phones = {c.columns["phone_e164"] for c in good if c.columns.get("phone_e164")}
        found = duplicates.matches_for(emails, phones)
        values = [self.values(clean, found, now) for clean in good]
        imp.processed_rows += len(rows)
        if values:
            self.write(values, now)

    def values(self, clean: fields.CleanLead, found: dict, now) -> dict:
        imp, columns = self.imp, clean.columns
        score, breakdown = scoring.score(clean.filled, self.category, self.weights, self.specs)
        keys = [(k, columns.get(c)) for k, c in (("email", "email_normalized"), ("phone", "phone_e164"))]
        keys = [key for key in keys if key[1]]
        lead_id = uuid.uuid4()
        duplicate = next((found[key] for key in keys if key in found), None) or next(
            (self.seen[key] for key in keys if key in self.seen), None
        )
        for key in keys:
            self.seen.setdefault(key, lead_id)
        return {
            "id": lead_id,
            "title": fields.default_title(columns),
            "description": columns.get("description", ""),
            "category_id": imp.category_id,
            "originated_by": imp.partner_id,
            "allocated_to": None,
            "created_by": imp.created_by,
            "allocation_status": "pending",
            "kanban_stage": "new",
            **{name: columns.get(name) for name in LEAD_COLUMNS},
            "custom_fields": clean.custom,
            "quality_score": score,
            "score_breakdown": breakdown,
            "channel": "import",
            "intake_status": "pending_review",
            "confirmed_at": now,
            "duplicate_of_id": duplicate,
            "utm": {},
            "import_id": imp.id,
            "intake_key": intake_key(imp, clean),
            "fee_capped": False,
            "stage_changed_at": now,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }

    def insert_leads(self, values: list[dict]) -> set:
        """INSERT the batch's leads, skipping intake keys already there; the ids inserted.

        PostgreSQL: COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING id (a
        multi-row VALUES of 44,000 parameters costs seconds a batch to compile and convert). SQLite: the dialect's
        INSERT … ON CONFLICT DO NOTHING RETURNING, executemany."""
        table = Lead.__table__
        if db.engine.dialect.name != "postgresql":
            stmt = self.insert(table).on_conflict_do_nothing(index_elements=["intake_key"]).returning(table.c.id)
            return set(db.session.connection().execute(stmt, values).scalars())
        names = list(values[0])
        columns = ", ".join(names)
        with _driver_cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS import_leads_batch (LIKE leads INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY import_leads_batch ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row([_copy_value(row[name]) for name in names])
            # The column names are our own keys, not input.
            insert = f"INSERT INTO leads ({columns}) SELECT {columns} FROM import_leads_batch"  # noqa: S608
            cursor.execute(insert + " ON CONFLICT (intake_key) DO NOTHING RETURNING id")
            created = {row[0] for row in cursor.fetchall()}
            cursor.execute("TRUNCATE import_leads_batch")
        return created

    def insert_activity(self, lead_ids: set, now) -> None:
        actor_id = self.imp.created_by
        detail = {"source": "import", "import_id": str(self.imp.id)}
        rows = [(uuid.uuid4(), i, actor_id, "created", detail, now) for i in lead_ids]
        if db.engine.dialect.name == "postgresql":
            copy_sql = "COPY lead_activity (id, lead_id, actor_id, action, detail, created_at) FROM STDIN"
            with _driver_cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row([_copy_value(value) for value in row])
            return
        names = ("id", "lead_id", "actor_id", "action", "detail", "created_at")
        db.session.connection().execute(
            sa.insert(LeadActivity.__table__), [dict(zip(names, r, strict=True)) for r in rows]
        )

    def write(self, values: list[dict], now) -> None:
        """One INSERT for the batch's leads (existing intake keys skipped), one for their activity rows."""
        created = self.insert_leads(values)
        missed = [v["intake_key"] for v in values if v["id"] not in created]
        again = 0
        if missed:  # already there: this import's own (a re-run) count as created, another's as skipped
            rows = db.session.execute(
                sa.select(Lead.duplicate_of_id).where(Lead.intake_key.in_(missed), Lead.import_id == self.imp.id)
            ).all()
            again = len(rows)
            self.imp.duplicate_count += sum(1 for row in rows if row.duplicate_of_id)
        self.imp.created_count += len(created) + again
        self.imp.skipped_count += len(missed) - again
        self.imp.duplicate_count += sum(1 for v in values if v["id"] in created and v["duplicate_of_id"])
        if created:
            self.insert_activity(created, now)
            # A Core INSERT passes the rollups' session hook by: add these leads' figures to the rollups here.
            apply_rollups(db.session, fold(facts_for(db.session, created).values()))

    def store_rejects(self) -> None:
        if not self.imp.rejected_count:
            return
        self.rejects.seek(0)
        data = self.rejects.read().encode("utf-8-sig")
        stem = self.imp.filename.rpartition(".")[0] or "import"
        stored = storage.save_bytes(
            data,
            imports.FILE_KIND,
            f"{stem}-rejected.csv",
            "text/csv",
            actor=self.imp.creator,
            cp_id=self.imp.partner_id,
        )
        self.imp.rejected_file_id = stored.id


def _driver_cursor():
    """A cursor of the session's own psycopg connection (same transaction), for COPY."""
    return db.session.connection().connection.driver_connection.cursor()


def _copy_value(value):
    return json.dumps(value) if isinstance(value, dict | list) else value


def _reset(imp: LeadImport) -> None:
    imp.status, imp.error, imp.started_at, imp.finished_at = "running", None, utcnow(), None
    imp.processed_rows = imp.created_count = imp.duplicate_count = imp.rejected_count = imp.skipped_count = 0
    imp.rejected_file_id = None


def _batches(imp: LeadImport):
    batch = []
    for row in imports.data_rows(imp):
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _finish(imp: LeadImport, run: Run) -> None:
    run.store_rejects()
    imp.status, imp.finished_at = "done", utcnow()
    creator = db.session.get(User, imp.created_by) if imp.created_by else None
    counts = {
        "created": imp.created_count,
        "duplicates": imp.duplicate_count,
        "rejected": imp.rejected_count,
        "skipped": imp.skipped_count,
    }
    audit.record(creator, "lead_import.finished", imp, after={"rows": imp.processed_rows, **counts})
    if creator is not None:
        portal = "cp" if creator.is_cp else "admin"
        notify(
            [creator],
            "import_finished",
            filename=imp.filename,
            created=imp.created_count,
            rejected=imp.rejected_count,
            reference=("lead_import", imp.id),
            link=path_for(f"{portal}.import_detail", import_id=imp.id),
        )


def run_import(import_id: str) -> str:
    """Create the leads of one queued LeadImport. Progress is committed after every batch."""
    imp = db.session.get(LeadImport, uuid.UUID(str(import_id)))
    if imp is None or imp.status in ("uploaded", "done"):
        return "skipped"
    run = None
    try:
        _reset(imp)
        db.session.commit()
        run = Run(imp)
        for rows in _batches(imp):
            run.batch(rows)
            db.session.commit()
        _finish(imp, run)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        imp = db.session.get(LeadImport, uuid.UUID(str(import_id)))
        imp.status, imp.error, imp.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], utcnow()
        db.session.commit()
        if isinstance(exc, intake.IntakeRefused):
            return "failed"
        raise
    finally:
        if run is not None:
            run.rejects.close()
    return "done"
