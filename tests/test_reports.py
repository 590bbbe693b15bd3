"""The report query path: totals against hand-computed figures, filters, one path for every figure, the PDF job."""

import io
import uuid
from datetime import date
from decimal import Decimal

import pypdf
import pytest

from app.extensions import db
from app.jobs import reports as report_jobs
from app.models import ReportExport
from app.reporting import reports
from app.reporting.reports import ReportFilters
from tests import factories, report_data
from tests.conftest import login, requires_redis
from tests.rq_support import redis_mode, run_worker

D = Decimal


@pytest.fixture
def data():
    return report_data.build()


def python_totals(rows) -> dict:
    """The same totals computed in Python from the streamed report rows."""
    live = [r for r in rows if r.tx_status in ("pending", "due", "paid")]
    money = lambda items, key: sum((getattr(r, key) for r in items), D("0.00"))  # noqa: E731
    return {
        "rows": len(rows),
        "transactions": len(live),
        "gross_commission": money(live, "gross_commission"),
        "platform_fee": money(live, "platform_fee"),
        "net_commission": money(live, "net_commission"),
        "fee_settled": money([r for r in live if r.fee_settled], "platform_fee"),
        "net_due": money([r for r in live if r.tx_status == "due"], "net_commission"),
        "net_paid": money([r for r in live if r.tx_status == "paid"], "net_commission"),
        "won_leads": sum(1 for r in rows if r.stage == "won"),
        "active_leads": sum(1 for r in rows if r.stage in reports.OPEN_STAGES),
        "lead_value": sum((r.lead_value for r in rows if r.lead_value is not None), D("0.00")),
    }


def test_totals_match_the_hand_computed_figures(data):
    totals = reports.report_totals()
    for key, expected in report_data.expected_all().items():
        assert totals[key] == expected, key
    assert totals["platform_fee"] == totals["fee_settled"] + totals["fee_outstanding"]
    assert totals["gross_commission"] == totals["platform_fee"] + totals["net_commission"]


def test_spec_worked_examples_appear_row_by_row(data):
    rows = {r.lead_title: r for r in reports.report_rows()}
    assert (rows["Acme rollout"].gross_commission, rows["Acme rollout"].platform_fee) == (D("1000.00"), D("100.00"))
    assert rows["Acme rollout"].net_commission == D("900.00")
    assert (rows["Fixed fee deal"].platform_fee, rows["Fixed fee deal"].net_commission) == (D("50.00"), D("950.00"))
    assert (rows["Capped deal"].platform_fee, rows["Capped deal"].net_commission) == (D("30.00"), D("0.00"))
    formula = rows['=HYPERLINK("http://evil")']
    assert formula.platform_fee == D("41.67")
    assert formula.net_commission == (D("291.66") if report_data.is_postgres() else D("291.70"))
    assert rows["Voided deal"].tx_status == "void"
    assert rows["Acme rollout"].fee_settled and not rows["Fixed fee deal"].fee_settled
    assert rows["Warm prospect"].tx_status is None and rows["Unallocated idea"].cp_id is None


@pytest.mark.parametrize(
    "make_filters",
    [
        lambda d: ReportFilters(),
        lambda d: ReportFilters(cp_id=d["a"].id),
        lambda d: ReportFilters(cp_id=d["b"].id),
        lambda d: ReportFilters(category_id=d["solar"].id),
        lambda d: ReportFilters(stage="won"),
        lambda d: ReportFilters(tx_status="due"),
        lambda d: ReportFilters(date_from=date(2026, 2, 1), date_to=date(2026, 2, 28)),
        lambda d: ReportFilters(cp_id=d["a"].id, commission_only=True),
    ],
)
def test_every_total_equals_the_same_figure_computed_from_the_rows(data, make_filters):
    filters = make_filters(data)
    from_rows = python_totals(list(reports.report_rows(filters)))
    totals = reports.report_totals(filters)
    assert {k: totals[k] for k in from_rows} == from_rows


def test_filters_narrow_the_rows(data):
    def titles(**kw):
        return sorted(r.lead_title for r in reports.report_rows(ReportFilters(**kw)))

    assert titles(date_from=date(2026, 2, 1), date_to=date(2026, 2, 28)) == [
        "Beta big deal",
        "Fixed fee deal",
        "Warm prospect",
    ]
    assert titles(cp_id=data["b"].id) == ["Beta big deal", "Beta new lead"]
    assert titles(category_id=data["solar"].id, stage="won") == ["Acme rollout", "Capped deal"]
    assert titles(tx_status="void") == ["Voided deal"]
    assert titles(cp_id=data["a"].id, commission_only=True) == [
        '=HYPERLINK("http://evil")',
        "Acme rollout",
        "Capped deal",
        "Fixed fee deal",
    ]


def test_void_transactions_stay_listed_but_count_in_no_total(data):
    totals = reports.report_totals(ReportFilters(tx_status="void"))
    assert totals["rows"] == 1
    assert (totals["gross_commission"], totals["platform_fee"], totals["net_commission"]) == (D(0), D(0), D(0))


def test_filters_from_a_query_string_ignore_nonsense():
    filters = reports.filters_from_args(
        {"date_from": "2026-13-45", "date_to": "x", "cp": "not-a-uuid", "stage": "won'; drop", "tx_status": "due"}
    )
    assert filters == ReportFilters(tx_status="due")
    swapped = reports.filters_from_args({"date_from": "2026-03-01", "date_to": "2026-01-01"})
    assert (swapped.date_from, swapped.date_to) == (date(2026, 1, 1), date(2026, 3, 1))
    assert reports.filters_from_args(reports.filters_to_params(swapped)) == swapped


def test_report_page_filters_paginates_and_totals(client, data):
    boss = factories.make_user("super_admin")
    db.session.commit()
    login(client, boss)
    page = client.get(f"/super/reports?cp={data['b'].id}").get_data(as_text=True)
    assert "Beta big deal" in page and "Acme rollout" not in page
    assert "$800.00" in page and "Filters applied" in page and "Beta Ltd" in page
    partial = client.get("/super/reports?stage=won&page=999", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and 'id="report-results"' in partial and "Acme rollout" in partial
    assert client.get("/super/reports?page=-4&date_from=garbage&cp=%00").status_code == 200


def _job_pdf(app, client, data, monkeypatch, threshold=3):
    boss = factories.make_user("super_admin")
    db.session.commit()
    login(client, boss)
    monkeypatch.setitem(app.config, "REPORT_PDF_JOB_THRESHOLD", threshold)
    seen = []
    original = report_jobs._set_progress
    monkeypatch.setattr(report_jobs, "_set_progress", lambda e, n: (seen.append(n), original(e, n)))
    response = client.post("/super/reports/export.pdf", data={"cp": str(data["a"].id)})
    return boss, response, seen


def test_a_large_pdf_is_built_by_the_job_with_progress_and_a_download(app, client, data, monkeypatch):
    boss, response, seen = _job_pdf(app, client, data, monkeypatch)
    assert response.status_code == 303
    export = db.session.scalar(db.select(ReportExport).where(ReportExport.requested_by == boss.id))
    db.session.refresh(export)
    assert export.status == "done" and export.progress == export.total == 2 * 7
    assert seen == sorted(seen) and seen[0] < export.total and seen[-1] == export.total
    assert export.params == {"cp": str(data["a"].id)}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Download PDF" in page and "every 1s" not in page
    pdf = client.get(f"/files/{export.file_id}")
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Commission report" in text and "Channel partner: Ødegaard & Co." in text and "Page 1 of 1" in text


def test_a_running_export_polls_and_only_its_requester_sees_it(app, client, data):
    boss, other_boss = factories.make_user("super_admin"), factories.make_user("super_admin")
    export = ReportExport(
        requested_by=boss.id, kind="commission_report_pdf", params={}, status="running", progress=5, total=20
    )
    db.session.add(export)
    db.session.commit()
    login(client, boss)
    partial = client.get(f"/super/reports/exports/{export.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in partial and 'aria-valuenow="25"' in partial and "<html" not in partial
    other = login(app.test_client(), other_boss)
    assert other.get(f"/super/reports/exports/{export.id}").status_code == 404
    assert other.get(f"/super/reports/exports/{uuid.uuid4()}").status_code == 404


def test_the_job_is_safe_to_run_twice_and_records_failure(app, data, monkeypatch):
    boss = factories.make_user("super_admin")
    export = report_jobs.start_report_pdf(boss, ReportFilters())
    db.session.commit()
    assert report_jobs.build_report_pdf(str(export.id)) == "done"
    assert report_jobs.build_report_pdf(str(export.id)) == "skipped"
    broken = report_jobs.start_report_pdf(boss, ReportFilters())
    db.session.commit()
    monkeypatch.setattr(report_jobs.exports, "report_pdf", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        report_jobs.build_report_pdf(str(broken.id))
    db.session.refresh(broken)
    assert broken.status == "failed" and "ZeroDivisionError" in broken.error


@requires_redis
def test_a_real_rq_worker_builds_the_queued_pdf(app, client, data, monkeypatch):
    boss = factories.make_user("super_admin")
    db.session.commit()
    login(client, boss)
    monkeypatch.setitem(app.config, "REPORT_PDF_JOB_THRESHOLD", 3)
    with redis_mode(app) as (_redis, queue):
        response = client.post("/super/reports/export.pdf", data={"stage": "won"})
        assert response.status_code == 303
        export = db.session.scalar(db.select(ReportExport).where(ReportExport.requested_by == boss.id))
        assert export.status == "queued"
        polling = client.get(response.headers["Location"], headers={"HX-Request": "true"}).get_data(as_text=True)
        assert 'hx-trigger="every 1s"' in polling and "Waiting for a worker" in polling
        run_worker(queue, STORAGE_LOCAL_DIR=app.config["STORAGE_LOCAL_DIR"])
    db.session.expire_all()
    export = db.session.get(ReportExport, export.id)
    assert export.status == "done" and export.progress == export.total == 10
    done = client.get(response.headers["Location"], headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "every 1s" not in done and "Download PDF" in done
    pdf = client.get(f"/files/{export.file_id}")
    text = pypdf.PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Lead status: Won" in text and "Beta big deal" in text
