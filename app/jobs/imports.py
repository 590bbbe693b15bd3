"""The bulk-import job (RQ): creates an import's leads in batches, with progress, and its rejected rows' CSV.

Two processes share the work. A worker process cleans each row with the one validator and scores it (`prepare`,
no database); this one marks the file's own repeats, applies the quota, checks each batch for duplicates against
live leads (one query per key kind), inserts it with ONE statement (COPY into a temporary table, then INSERT …
ON CONFLICT (intake_key) DO NOTHING) and commits the counts (`Store`). So cleaning one batch overlaps storing the
one before: no ORM object, query, notification, audit or activity row per lead. The import itself is the record
(one audit row, its counts and file); a lead's page shows that it came from it (templates/_partials/leads/
_activity.html), and the partner's activity feed is not flooded with thousands of "created" entries.

Safe to run twice: a lead's intake_key is a hash of the originator, the category and the row's cleaned
values, so a re-run (or the same file imported again) creates nothing twice; rows this import already created
count again as created, rows another import created count as skipped.
"""

import csv
import hashlib
import json
import multiprocessing
import tempfile
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa
from flask import Flask, current_app
from psycopg import sql as pgsql
from sqlalchemy.dialects import sqlite

from app.audit import trail as audit
from app.comms.notifications import notify, path_for
from app.extensions import db
from app.files import storage
from app.leads import duplicates, fields, imports, intake, scoring
from app.models import Lead, LeadImport, User
from app.models.base import utcnow
from app.reporting.exports import neutralise
from app.reporting.rollups.facts import facts_for, fold
from app.reporting.rollups.store import apply as apply_rollups

BATCH = 2000
LEAD_COLUMNS = (
    "contact_name", "contact_email", "contact_phone", "contact_company", "first_name", "last_name", "job_title",
    "industry", "address", "lead_type", "budget", "timeline", "email_normalized", "phone_e164",
)  # fmt: skip
KEYS = (("email", "email_normalized"), ("phone", "phone_e164"))


def intake_key(owner: str, category_id, clean: fields.CleanLead) -> str:
    """The same row (cleaned) for the same originator and category always gives the same key."""
    values = json.dumps([clean.columns, clean.custom], sort_keys=True, default=str)
    return hashlib.sha256(f"{owner}|{category_id}|{values}".encode()).hexdigest()


class Json(dict):
    """A dict whose JSON text is made once (a score breakdown shared by many rows)."""

    @cached_property
    def text(self) -> str:
        return json.dumps(self)


@dataclass(frozen=True)
class Plan:
    """What turning an import's rows into leads needs, as plain data: a worker process gets a copy."""

    import_id: uuid.UUID
    partner_id: uuid.UUID | None
    created_by: uuid.UUID | None
    category_id: uuid.UUID | None
    mapping: dict
    specs: tuple
    labels: dict
    weights: dict

    @classmethod
    def of(cls, imp: LeadImport) -> "Plan":
        category = imp.category
        specs = tuple(fields.specs_for(category))
        labels = dict(imports.targets(category))
        return cls(imp.id, imp.partner_id, imp.created_by, imp.category_id, dict(imp.mapping), specs, labels,
                   scoring.weights())  # fmt: skip

    @property
    def owner(self) -> str:
        return str(self.partner_id) if self.partner_id else "platform"


def prepare(plan: Plan, rows: list[list[str]], now) -> list[tuple[list[str], dict | None, str | None]]:
    """Each row cleaned with the one validator and scored: (row, the lead's values, None) or (row, None, why not).
    Touches no database, so it runs in a worker process."""
    scores, out = {}, []
    for row in rows:
        try:
            clean = fields.clean(imports.row_data(row, plan.mapping), None, list(plan.specs))
        except fields.LeadDataInvalid as exc:
            out.append((row, None, imports.error_text(exc, plan.labels)))
            continue
        out.append((row, _values(plan, clean, now, scores), None))
    return out


def _values(plan: Plan, clean: fields.CleanLead, now, scores: dict) -> dict:
    columns, filled = clean.columns, frozenset(clean.filled)
    if filled not in scores:  # the same for every row that fills the same fields
        score, breakdown = scoring.score(filled, None, plan.weights, list(plan.specs))
        scores[filled] = (score, Json(breakdown))
    score, breakdown = scores[filled]
    return {
        "id": uuid.uuid4(),
        "title": fields.default_title(columns),
        "description": columns.get("description", ""),
        "category_id": plan.category_id,
        "originated_by": plan.partner_id,
        "allocated_to": None,
        "created_by": plan.created_by,
        "allocation_status": "pending",
        "kanban_stage": "new",
        **{name: columns.get(name) for name in LEAD_COLUMNS},
        "custom_fields": clean.custom,
        "quality_score": score,
        "score_breakdown": breakdown,
        "channel": "import",
        "intake_status": "pending_review",
        "confirmed_at": now,
        "duplicate_of_id": None,
        "utm": {},
        "import_id": plan.import_id,
        "intake_key": intake_key(plan.owner, plan.category_id, clean),
        "fee_capped": False,
        "stage_changed_at": now,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _init_worker(region: str) -> None:
    """A worker process: the one setting the validator reads from the app (phone numbers' default region)."""
    worker = Flask("lead-import-worker")
    worker.config["PHONE_DEFAULT_REGION"] = region
    worker.app_context().push()


def prepared(plan: Plan, batches, region: str):
    """Each batch prepared: in a worker process when the file has more than one batch, the next batch being
    cleaned there while this process stores the one before (the two cores share the work)."""
    first, second = next(batches, None), next(batches, None)
    if second is None:
        if first is not None:
            yield prepare(plan, first, utcnow())
        return
    context = multiprocessing.get_context("spawn")  # never fork a web or RQ process with its connections
    with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker, initargs=(region,)) as pool:
        pending = deque(pool.submit(prepare, plan, rows, utcnow()) for rows in (first, second))
        for rows in batches:
            done = pending.popleft().result()
            pending.append(pool.submit(prepare, plan, rows, utcnow()))
            yield done
        while pending:
            yield pending.popleft().result()


class Store:
    """This process's part: the file's own repeats, the quota, the rejected rows; then duplicates against live
    leads, the INSERT, the rollups and the progress, committed batch by batch."""

    def __init__(self, imp: LeadImport, plan: Plan):
        self.imp, self.plan = imp, plan
        self.seen: dict[tuple[str, str], uuid.UUID] = {}  # (kind, value) → the batch's first lead with it
        self.alias: dict[uuid.UUID, uuid.UUID] = {}  # a row's planned id → the lead already there with its key
        self.quota, self.quota_text = self._quota(imp)
        self.rejects = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+", newline="")  # noqa: SIM115 (closed by run_import)
        self.out = csv.writer(self.rejects)
        self.out.writerow([neutralise(h) for h in [*imp.headers, "error"]])

    @staticmethod
    def _quota(imp: LeadImport) -> tuple[int | None, str]:
        partner = imp.partner
        if partner is None:
            return None, ""
        if not partner.cap_originates:
            raise intake.IntakeRefused("The partner may no longer originate leads.")
        left = intake.quota_left(partner)
        if left is None:
            return None, ""
        mine = db.session.scalar(
            sa.select(sa.func.count()).select_from(Lead).where(Lead.import_id == imp.id)
        )  # on a re-run, this import's own leads are already counted as used
        text = (
            f"Over the quota: the partner's {partner.monthly_lead_quota} leads this month are used "
            "(it renews on the 1st, or an admin can raise it)."
        )
        return left + mine, text

    def reject(self, row: list[str], message: str) -> None:
        self.out.writerow([neutralise(cell) for cell in row] + [neutralise(message)])
        self.imp.rejected_count += 1

    def accept(self, batch) -> list[dict]:
        """The prepared batch's leads within the quota (the others rejected), each marked as a repeat of the
        file's earlier row with the same email or phone."""
        values, self.seen = [], {}  # repeats across batches are in the database by then: matches_for finds them
        for row, lead, error in batch:
            if lead is not None and self.quota is not None:
                if self.quota <= 0:
                    lead, error = None, self.quota_text
                else:
                    self.quota -= 1
            if lead is None:
                self.reject(row, error)
                continue
            keys = [(kind, lead[column]) for kind, column in KEYS if lead[column]]
            lead["duplicate_of_id"] = next((self.seen[key] for key in keys if key in self.seen), None)
            for key in keys:
                self.seen.setdefault(key, lead["id"])
            values.append(lead)
        return values

    def write(self, batch) -> None:
        imp = self.imp
        fresh = self.known(self.accept(batch))
        emails = {v["email_normalized"] for v in fresh if v["email_normalized"]}
        phones = {v["phone_e164"] for v in fresh if v["phone_e164"]}
        found = duplicates.matches_for(emails, phones)
        for v in fresh:  # a live lead in the database first; else an earlier row of the file (as it was stored)
            in_db = next((found[(kind, v[c])] for kind, c in KEYS if (kind, v[c]) in found), None)
            v["duplicate_of_id"] = in_db or self.alias.get(v["duplicate_of_id"], v["duplicate_of_id"])
        created = insert_leads(fresh) if fresh else set()
        imp.processed_rows += len(batch)
        imp.created_count += len(created)
        imp.skipped_count += len(fresh) - len(created)  # taken by a run at the same moment
        imp.duplicate_count += sum(1 for v in fresh if v["id"] in created and v["duplicate_of_id"])
        if created:
            add_to_rollups(created)
        db.session.commit()

    def known(self, values: list[dict]) -> list[dict]:
        """The leads whose intake key is not in the database yet. The others are counted: created again when this
        import made them (a re-run), skipped when another did; the batch's later repeats point at what is there."""
        self.alias = {}
        if not values:
            return []
        keys = [v["intake_key"] for v in values]
        columns = (Lead.id, Lead.intake_key, Lead.import_id, Lead.duplicate_of_id)
        rows = db.session.execute(sa.select(*columns).where(duplicates.any_of(Lead.intake_key, keys))).all()
        there, fresh = {row.intake_key: row for row in rows}, []
        for v in values:
            row = there.get(v["intake_key"])
            if row is None:
                fresh.append(v)
                continue
            self.alias[v["id"]] = row.id
            mine = row.import_id == self.imp.id
            self.imp.created_count += int(mine)
            self.imp.skipped_count += int(not mine)
            self.imp.duplicate_count += int(mine and row.duplicate_of_id is not None)
        return fresh


def insert_leads(values: list[dict]) -> set:
    """INSERT the leads, skipping intake keys already there; the ids inserted.

    PostgreSQL: COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING id (a
    multi-row VALUES of 44,000 parameters costs seconds a batch to compile and convert). SQLite: the dialect's
    INSERT … ON CONFLICT DO NOTHING RETURNING, executemany."""
    table = Lead.__table__
    if db.engine.dialect.name != "postgresql":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["intake_key"]).returning(table.c.id)
        return set(db.session.connection().execute(stmt, values).scalars())
    names = list(values[0])
    columns = pgsql.SQL(", ").join(map(pgsql.Identifier, names))
    json_columns = {name for name, value in values[0].items() if isinstance(value, dict)}
    with _driver_cursor() as cursor:
        # The job can run again (intake keys): its commits need not wait for the WAL to reach the disk.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_leads_batch (LIKE leads INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(pgsql.SQL("COPY import_leads_batch ({}) FROM STDIN").format(columns)) as copy:
            for row in values:
                copy.write_row([_copy_value(row[name]) if name in json_columns else row[name] for name in names])
        insert = "INSERT INTO leads ({c}) SELECT {c} FROM import_leads_batch ON CONFLICT (intake_key) DO NOTHING RETURNING id"
        cursor.execute(pgsql.SQL(insert).format(c=columns))
        created = {row[0] for row in cursor.fetchall()}
        cursor.execute("TRUNCATE import_leads_batch")
    return created


def add_to_rollups(created: set) -> None:
    """A Core INSERT passes the rollups' session hook by: add these leads' figures here. A batch's leads share
    every fact the rollups read (category, day, stage new, unallocated, no value, no commission), so one lead's
    contribution times the count is theirs."""
    totals = fold(facts_for(db.session, [next(iter(created))]).values())
    for bucket in totals.values():
        for name in bucket:
            bucket[name] *= len(created)
    apply_rollups(db.session, totals)


def _driver_cursor():
    """A cursor of the session's own psycopg connection (same transaction), for COPY."""
    return db.session.connection().connection.driver_connection.cursor()


def _copy_value(value):
    if isinstance(value, Json):
        return value.text
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


def _store_rejects(imp: LeadImport, store: Store) -> None:
    if not imp.rejected_count:
        return
    store.rejects.seek(0)
    data = store.rejects.read().encode("utf-8-sig")
    stem = imp.filename.rpartition(".")[0] or "import"
    name = f"{stem}-rejected.csv"
    stored = storage.save_bytes(data, imports.FILE_KIND, name, "text/csv", actor=imp.creator, cp_id=imp.partner_id)
    imp.rejected_file_id = stored.id


def _finish(imp: LeadImport, store: Store) -> None:
    _store_rejects(imp, store)
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
    store = None
    try:
        _reset(imp)
        db.session.commit()
        plan = Plan.of(imp)
        store = Store(imp, plan)
        for batch in prepared(plan, _batches(imp), current_app.config["PHONE_DEFAULT_REGION"]):
            store.write(batch)
        _finish(imp, store)
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
        if store is not None:
            store.rejects.close()
    return "done"
