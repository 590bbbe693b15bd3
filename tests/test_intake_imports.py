"""Bulk import of leads (issue 18 item 7): upload CSV/XLSX, auto-mapping, preview, the job (a real RQ worker on
Redis, and in-process), progress, rejected rows, re-runs, partner quota and capability, access, bad files."""

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from app.extensions import db
from app.jobs.imports import run_import
from app.leads import imports
from app.models import AuditEvent, CategoryField, Lead, LeadActivity, LeadImport, Notification, StoredFile
from app.models.base import utcnow
from app.reporting import rollups
from tests import factories
from tests.conftest import login, requires_redis
from tests.rq_support import redis_mode, run_worker

HEADERS = ["First Name", "surname", "E-mail", "mobile", "Company name", "Fleet size", "Notes"]
ROWS = [
    ["Ada", "Lovelace", "ada@example.com", "+44 20 7946 0001", "Engines Ltd", "12", "Wants a quote"],
    ['=HYPERLINK("http://evil")', "Bad", "not-an-email", "", "", "", ""],  # invalid: formula + bad email
    ["Grace", "Hopper", "grace@example.com", "", "Navy", "3", ""],  # duplicate of a lead already there
    ["Alan", "Turing", "alan@example.com", "+44 20 7946 0002", "", "", ""],
    ["Alan", "T.", "ALAN@example.com", "", "", "", ""],  # same contact as the row above
]


def csv_bytes(rows, headers=HEADERS, delimiter=",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows, headers=HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def category():
    category = factories.make_category("Fleet insurance")
    db.session.add(CategoryField(category_id=category.id, key="fleet_size", label="Fleet size", field_type="number"))
    db.session.commit()
    return category


@pytest.fixture
def admin():
    user = factories.make_user("admin")
    db.session.commit()
    return user


def post_file(client, portal, data, filename, category):
    return client.post(
        f"/{portal}/imports",
        data={"file": (io.BytesIO(data), filename), "category": str(category.id)},
        content_type="multipart/form-data",
    )


def upload_ok(client, portal, data, filename, category) -> LeadImport:
    response = post_file(client, portal, data, filename, category)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    import_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    return db.session.get(LeadImport, __import__("uuid").UUID(import_id))


def start(client, portal, imp, mapping=None):
    mapping = imp.mapping if mapping is None else mapping
    data = {f"col_{i}": mapping.get(str(i), "") for i in range(len(imp.headers))}
    return client.post(f"/{portal}/imports/{imp.id}/start", data=data)


def leads_of(imp):
    return list(db.session.scalars(sa.select(Lead).where(Lead.import_id == imp.id).order_by(Lead.last_name)))


def test_a_csv_upload_reads_headers_counts_rows_and_maps_columns_by_name_and_synonym(client, admin, category):
    login(client, admin)
    imp = upload_ok(client, "admin", csv_bytes(ROWS, delimiter=";"), "leads.csv", category)
    assert imp.status == "uploaded" and imp.total_rows == 5 and imp.headers == HEADERS
    assert imp.mapping == {
        "0": "first_name",
        "1": "last_name",
        "2": "contact_email",
        "3": "contact_phone",
        "4": "contact_company",
        "5": "cf_fleet_size",
        "6": "description",
    }
    assert len(imp.file_sha256) == 64 and imp.file.size_bytes > 0
    page = client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)
    assert '<option selected value="contact_email">' in page or 'value="contact_email" selected' in page


def test_an_xlsx_upload_reads_numbers_as_text_and_imports(client, admin, category):
    login(client, admin)
    rows = [["Ada", "Lovelace", None, "+44 20 7946 0001", "Engines Ltd", 12.0, None]]
    imp = upload_ok(client, "admin", xlsx_bytes(rows), "leads.xlsx", category)
    assert imp.total_rows == 1 and imp.mapping["3"] == "contact_phone"
    assert start(client, "admin", imp).status_code == 303  # no Redis here: the job runs in-process after commit
    db.session.expire_all()
    imp = db.session.get(LeadImport, imp.id)
    assert (imp.status, imp.created_count, imp.rejected_count) == ("done", 1, 0)
    (lead,) = leads_of(imp)
    assert lead.phone_e164 == "+442079460001" and lead.custom_fields == {"fleet_size": "12"}


def test_the_preview_marks_invalid_and_duplicate_rows_with_their_score(app, client, admin, category):
    factories.make_lead(title="Earlier", email_normalized="grace@example.com", intake_status="pending_review")
    db.session.commit()
    login(client, admin)
    imp = upload_ok(client, "admin", csv_bytes(ROWS), "leads.csv", category)
    rows = imports.preview(imp, imp.mapping)
    db.session.rollback()  # end the test's read (SQLite)
    assert [r.status for r in rows] == ["valid", "invalid", "duplicate", "valid", "duplicate"]
    assert "Email" in rows[1].messages[0] and rows[1].score is None
    assert rows[2].messages == ["Possible duplicate of a recent lead."] and rows[4].messages == [
        "Same contact as row 5."
    ]
    assert rows[0].score > rows[3].score > 0
    resp = client.get(f"/admin/imports/{imp.id}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, (resp.status_code, page[page.find("<main") : page.find("<main") + 900])
    assert page.count('data-status="invalid"') == 1 and page.count('data-status="duplicate"') == 2
    # The HTMX refresh with another mapping: without the email column, the rows with no phone become invalid.
    args = {f"col_{i}": imp.mapping.get(str(i), "") for i in range(len(HEADERS))} | {"col_2": ""}
    fragment = client.get(f"/admin/imports/{imp.id}/preview", query_string=args, headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and body.lstrip().startswith("{#") is False and 'id="import-preview"' in body
    assert "<html" not in body and body.count('data-status="invalid"') == 3  # rows 2, 3 and 5 have no phone


def test_a_bad_mapping_is_refused_beside_the_form_and_starts_nothing(client, admin, category):
    login(client, admin)
    imp = upload_ok(client, "admin", csv_bytes(ROWS), "leads.csv", category)
    response = start(client, "admin", imp, {"0": "first_name", "2": "contact_email"})
    assert response.status_code == 422 and "Choose a column for Last name" in response.get_data(as_text=True)
    twice = {"0": "first_name", "1": "first_name", "2": "contact_email"}
    assert start(client, "admin", imp, twice).status_code == 422
    db.session.expire_all()
    assert db.session.get(LeadImport, imp.id).status == "uploaded"


def test_the_job_in_process_counts_writes_rejects_and_a_second_start_is_refused(client, admin, category):
    factories.make_lead(title="Earlier", email_normalized="grace@example.com", intake_status="pending_review")
    db.session.commit()
    login(client, admin)
    imp = upload_ok(client, "admin", csv_bytes(ROWS), "leads.csv", category)
    assert start(client, "admin", imp).status_code == 303
    again = start(client, "admin", imp)
    assert again.status_code == 422 and "already been started" in again.get_data(as_text=True)
    db.session.expire_all()
    imp = db.session.get(LeadImport, imp.id)
    assert (imp.status, imp.processed_rows, imp.created_count) == ("done", 5, 4)
    assert (imp.duplicate_count, imp.rejected_count, imp.skipped_count) == (2, 1, 0)
    leads = leads_of(imp)
    assert {lead.channel for lead in leads} == {"import"} and {lead.intake_status for lead in leads} == {
        "pending_review"
    }
    assert all(lead.confirmed_at and lead.intake_key and lead.created_by == admin.id for lead in leads)
    alans = [lead for lead in leads if lead.first_name == "Alan"]
    assert {a.duplicate_of_id for a in alans} - {None} == {next(a.id for a in alans if a.duplicate_of_id is None)}
    ada = next(lead for lead in leads if lead.first_name == "Ada")
    assert ada.quality_score > 0 and ada.score_breakdown["required"]["max"] == 30
    activity = db.session.scalar(sa.select(sa.func.count()).select_from(LeadActivity).where(
        LeadActivity.lead_id.in_([lead.id for lead in leads])))  # fmt: skip
    assert activity == 0  # the import is the record: its audit row, its counts, and each lead's origin line
    page = client.get(f"/admin/leads/{ada.id}").get_data(as_text=True)
    assert "imported it from" in page and ">leads.csv</a>" in page
    notes = list(db.session.scalars(sa.select(Notification).where(Notification.user_id == admin.id)))
    assert [n.event for n in notes] == ["import_finished"] and "4 created, 1 rejected" in notes[0].message
    audit = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(imp.id))).all()
    assert sorted(audit) == ["lead_import.finished", "lead_import.started", "lead_import.uploaded"]
    assert rollups.reconcile() == []  # the bulk INSERT kept the rollups in step
    progress = client.get(f"/admin/imports/{imp.id}/progress").get_data(as_text=True)
    assert 'value="100"' in progress and 'id="count-created">4<' in progress and "every 1s" not in progress


def test_a_file_of_several_batches_is_cleaned_in_a_worker_process_and_finds_repeats_across_batches(
    client, admin, category
):
    """More than one batch: the rows are cleaned in a worker process while this one stores them, and a contact
    repeated in a later batch is flagged against the lead the earlier batch created."""
    from app.jobs.imports import BATCH

    rows = [[f"Person{n}", "Lee", f"p{n}@bulk.example", "", "", "", ""] for n in range(BATCH + 50)]
    rows[BATCH + 10] = ["Again", "Lee", "P5@bulk.example", "", "", "", ""]  # row 5's contact, in the 2nd batch
    rows[BATCH + 20] = ["Broken", "Lee", "nope", "", "", "", ""]
    login(client, admin)
    imp = upload_ok(client, "admin", csv_bytes(rows), "bulk.csv", category)
    assert start(client, "admin", imp).status_code == 303
    db.session.expire_all()
    imp = db.session.get(LeadImport, imp.id)
    counts = (imp.status, imp.processed_rows, imp.created_count, imp.rejected_count, imp.duplicate_count)
    assert counts == ("done", BATCH + 50, BATCH + 49, 1, 1)
    first = db.session.scalar(sa.select(Lead).where(Lead.first_name == "Person5"))
    again = db.session.scalar(sa.select(Lead).where(Lead.first_name == "Again"))
    assert again.duplicate_of_id == first.id and first.duplicate_of_id is None
    assert rollups.reconcile() == []


def test_rejected_rows_download_as_formula_safe_csv(client, admin, category):
    login(client, admin)
    imp = upload_ok(client, "admin", csv_bytes(ROWS), "leads.csv", category)
    start(client, "admin", imp)
    response = client.get(f"/admin/imports/{imp.id}/rejected.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == [*HEADERS, "error"]
    assert rows[1][0] == '\'=HYPERLINK("http://evil")' and rows[1][2] == "not-an-email"
    assert "Email" in rows[1][-1] and len(rows) == 2


def test_running_the_same_file_again_creates_nothing_twice(client, admin, category):
    login(client, admin)
    first = upload_ok(client, "admin", csv_bytes(ROWS), "leads.csv", category)
    start(client, "admin", first)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Lead))
    second = upload_ok(client, "admin", csv_bytes(ROWS), "leads-again.csv", category)
    start(client, "admin", second)
    db.session.expire_all()
    second = db.session.get(LeadImport, second.id)
    assert (second.created_count, second.skipped_count, second.rejected_count) == (0, 4, 1)
    # The job itself run again (a retry after a crash) counts its own leads again and adds none.
    db.session.execute(sa.update(LeadImport).where(LeadImport.id == first.id).values(status="running"))
    db.session.commit()
    assert run_import(str(first.id)) == "done"
    db.session.expire_all()
    first = db.session.get(LeadImport, first.id)
    assert (first.created_count, first.skipped_count, first.duplicate_count) == (4, 0, 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == total == 4


@requires_redis
def test_the_job_runs_in_a_real_rq_worker_with_progress(app, client, admin, category):
    login(client, admin)
    rows = [[f"Name{i}", f"Family{i}", f"person{i}@example.com", "", "", "", ""] for i in range(2500)]
    rows[7][2] = "broken@"
    with redis_mode(app) as (_redis, queue):
        imp = upload_ok(client, "admin", csv_bytes(rows), "big.csv", category)
        assert start(client, "admin", imp).status_code == 303
        db.session.expire_all()
        assert db.session.get(LeadImport, imp.id).status == "queued"  # waits for the worker
        page = client.get(f"/admin/imports/{imp.id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert 'hx-trigger="every 1s"' in page and "Waiting for a worker" in page
        run_worker(queue, STORAGE_LOCAL_DIR=app.config["STORAGE_LOCAL_DIR"])
    db.session.expire_all()
    imp = db.session.get(LeadImport, imp.id)
    assert (imp.status, imp.processed_rows, imp.created_count, imp.rejected_count) == ("done", 2500, 2499, 1)
    assert imp.percent == 100 and imp.rejected_file_id is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead).where(Lead.import_id == imp.id)) == 2499


def test_an_import_left_queued_when_its_job_was_lost_is_run_by_the_sweeper(app, client, admin, category):
    login(client, admin)
    imp = upload_ok(
        client, "admin", csv_bytes([["Ann", "Lee", "ann@lee.example", "", "", "", ""]]), "lost.csv", category
    )
    imp.status = "queued"  # the mapping was guessed at upload; its job never ran (Redis lost it)
    imp.updated_at = utcnow() - timedelta(minutes=10)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["requeue-stranded"])
    assert result.exit_code == 0 and "1 imports, " in result.output, result.output
    db.session.expire_all()
    assert (db.session.get(LeadImport, imp.id).status, len(leads_of(imp))) == ("done", 1)


def test_a_partner_import_over_its_quota_rejects_the_rows_past_it(client, category):
    partner = factories.make_partner(monthly_lead_quota=3)
    factories.make_lead(originator=partner, title="Already this month")
    db.session.commit()
    login(client, partner.user)
    rows = [[f"N{i}", "Family", f"p{i}@example.com", "", "", "", ""] for i in range(4)]
    imp = upload_ok(client, "cp", csv_bytes(rows), "mine.csv", category)
    assert start(client, "cp", imp).status_code == 303
    db.session.expire_all()
    imp = db.session.get(LeadImport, imp.id)
    assert (imp.created_count, imp.rejected_count) == (2, 2)
    assert all(lead.originated_by == partner.id for lead in leads_of(imp))
    body = client.get(f"/cp/imports/{imp.id}/rejected.csv").get_data().decode("utf-8-sig")
    assert body.count("quota of 3") == 0 and body.count("Over the quota") == 2


def test_a_partner_without_the_capability_is_refused_with_a_message(client, category):
    partner = factories.make_partner(cap_originates=False)
    db.session.commit()
    login(client, partner.user)
    page = client.get("/cp/imports")
    assert page.status_code == 403 and "not set up to submit leads" in page.get_data(as_text=True)
    response = post_file(client, "cp", csv_bytes(ROWS), "leads.csv", category)
    assert response.status_code == 403 and "not set up to submit leads" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LeadImport)) == 0


def test_another_partner_cannot_see_or_download_an_import(client, category):
    owner, other = factories.make_partner(), factories.make_partner()
    viewer = factories.make_member(owner, "viewer")
    db.session.commit()
    login(client, owner.user)
    imp = upload_ok(client, "cp", csv_bytes(ROWS), "leads.csv", category)
    start(client, "cp", imp)
    assert client.get(f"/cp/imports/{imp.id}/rejected.csv").status_code == 200
    intruder = login(client.application.test_client(), other.user)
    for path in ("", "/progress", "/preview", "/rejected.csv"):
        assert intruder.get(f"/cp/imports/{imp.id}{path}").status_code == 404, path
    assert intruder.post(f"/cp/imports/{imp.id}/start").status_code == 404
    assert "leads.csv" not in intruder.get("/cp/imports").get_data(as_text=True)
    assert login(client.application.test_client(), viewer).get("/cp/imports").status_code == 403


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty"),
        (b"\n\n \n", "blank.csv", "no rows"),
        (b"ada@example.com,Ada,Lovelace\n", "noheader.csv", "must name the columns"),
        (b"First name,Last name,Email\n", "onlyheader.csv", "no leads under it"),
        (b"%PDF-1.4 not a sheet", "leads.pdf", "Upload a .csv or .xlsx file"),
        (b"PK\x03\x04 not really a workbook", "leads.xlsx", "damaged"),
        (b"\xff\xfe\x00b\x00a\x00d", "utf16.csv", "does not match its .csv"),
    ],
)
def test_bad_files_are_refused_with_422_and_store_nothing(client, admin, category, data, filename, message):
    login(client, admin)
    response = post_file(client, "admin", data, filename, category)
    assert response.status_code == 422, response.status_code
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StoredFile)) == 0


def test_a_file_over_20_mb_or_100000_rows_is_refused(client, admin, category, monkeypatch):
    login(client, admin)
    big = b"First name,Last name,Email\n" + b"a" * (imports.MAX_BYTES + 10)
    response = post_file(client, "admin", big, "big.csv", category)
    assert response.status_code == 422 and "too large" in response.get_data(as_text=True)
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    rows = [[f"N{i}", "F", f"p{i}@example.com", "", "", "", ""] for i in range(4)]
    response = post_file(client, "admin", csv_bytes(rows), "many.csv", category)
    assert response.status_code == 422 and "more than 3 rows" in response.get_data(as_text=True)
    assert post_file(client, "admin", csv_bytes(ROWS), "x.csv", type("C", (), {"id": "nope"})).status_code == 422
