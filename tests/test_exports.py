"""CSV and PDF exports: parsed back row by row, formula injection defused, CPs only ever get their own rows."""

import csv
import io

import pypdf
import pytest

from app.extensions import db
from app.reporting import exports, reports
from app.reporting.reports import ReportFilters
from tests import factories, report_data
from tests.conftest import login


@pytest.fixture
def data():
    return report_data.build()


def parse_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def expected_rows(filters, columns) -> list[list[str]]:
    return [[exports.csv_text(row._mapping[c.key], c.kind) for c in columns] for row in reports.report_rows(filters)]


def super_client(app):
    boss = factories.make_user("super_admin")
    db.session.commit()
    return login(app.test_client(), boss)


def test_report_csv_parses_back_row_for_row(app, data):
    rows = parse_csv(super_client(app).get("/super/reports/export.csv"))
    assert rows[0] == [c.header for c in exports.REPORT_COLUMNS]
    assert rows[1:] == expected_rows(ReportFilters(), exports.REPORT_COLUMNS)
    by_lead = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    acme = by_lead["Acme rollout"]
    assert acme == {
        "Lead": "Acme rollout",
        "Channel partner": "Ødegaard & Co.",
        "Category": "Solar",
        "Lead status": "Won",
        "Won date": "2026-01-15",
        "Lead value": "10000.00",
        "Gross commission": "1000.00",
        "Platform fee": "100.00",
        "Net CP payment": "900.00",
        "Transaction status": "Paid",
        "Settled to CP": "2026-01-25",
        "Fee settled": "Yes",
    }
    assert by_lead["Capped deal"]["Platform fee"] == "30.00" and by_lead["Capped deal"]["Net CP payment"] == "0.00"
    assert by_lead["Warm prospect"]["Gross commission"] == "" and by_lead["Warm prospect"]["Fee settled"] == ""


def test_csv_filters_follow_the_query_string(app, data):
    rows = parse_csv(super_client(app).get(f"/super/reports/export.csv?cp={data['b'].id}&stage=won"))
    assert [r[0] for r in rows[1:]] == ["Beta big deal"]


def test_formula_injection_is_neutralised_but_amounts_are_not_touched(app, data):
    lead = data["leads"]["warm"]
    lead.title = "@SUM(A1:A9)"
    data["b"].company_name = "+Beta"
    data["leads"]["lost"].title = "-2+3"
    data["leads"]["beta_new"].title = "\tcmd|' /C calc'!A0"
    db.session.commit()
    rows = parse_csv(super_client(app).get("/super/reports/export.csv"))
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil")' in cells
    assert {"'@SUM(A1:A9)", "'+Beta", "'-2+3", "'\tcmd|' /C calc'!A0"} <= set(cells)
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in cells)
    assert exports.neutralise("plain") == "plain" and exports.neutralise("") == ""


def test_cp_statement_has_only_its_own_rows_whatever_it_asks_for(app, data):
    a_client = login(app.test_client(), data["a"].user)
    rows = parse_csv(a_client.get(f"/cp/statement.csv?cp={data['b'].id}"))
    assert rows[0] == [c.header for c in exports.STATEMENT_COLUMNS]
    assert sorted(r[0] for r in rows[1:]) == [
        '\'=HYPERLINK("http://evil")',
        "Acme rollout",
        "Capped deal",
        "Fixed fee deal",
    ]
    b_rows = parse_csv(login(app.test_client(), data["b"].user).get(f"/cp/statement.csv?cp={data['a'].id}"))
    assert [r[0] for r in b_rows[1:]] == ["Beta big deal"]
    dated = parse_csv(a_client.get("/cp/statement.csv?date_from=2026-02-01&date_to=2026-03-10"))
    assert sorted(r[0] for r in dated[1:]) == ["Capped deal", "Fixed fee deal"]
    page = a_client.get(f"/cp/statement?cp={data['b'].id}").get_data(as_text=True)
    assert "Beta big deal" not in page and "Acme rollout" in page


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_cp_statement_pdf(app, data):
    text, pages = pdf_text(login(app.test_client(), data["a"].user).get("/cp/statement.pdf?date_from=2026-01-01"))
    assert "Commission statement · Ødegaard & Co." in text
    assert "Period: 2026-01-01 to today" in text
    assert "Generated at" in text and f"Page 1 of {pages}" in text
    assert "Beta big deal" not in text
    gross = "2363.33" if report_data.is_postgres() else "2363.37"
    assert gross in text.split("Totals")[-1]  # the totals row, after the last "Totals" label


def test_report_pdf_has_title_filters_totals_and_page_numbers_over_many_pages(app, data):
    for i in range(70):
        factories.make_lead(data["a"], title=f"Zoë Łukasz {i}", lead_value="10", category_id=data["solar"].id)
    factories.make_lead(data["a"], title="Two\nlines", lead_value="10")  # a cell is one line (rows have one height)
    db.session.commit()
    client = super_client(app)
    text, pages = pdf_text(client.post("/super/reports/export.pdf", data={"cp": str(data["a"].id)}))
    assert pages >= 2
    assert (
        text.count("Commission report") >= 1
        and "Filters: From: the beginning; To: today; Channel partner: Ødegaard & Co." in text
    )
    assert "Generated at" in text and f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Zoë Łukasz 5" in text and "Two lines" in text and "Beta big deal" not in text
    assert text.count("Gross") >= pages  # the header row repeats on every page
    totals = reports.report_totals(ReportFilters(cp_id=data["a"].id))
    assert f"{totals['gross_commission']:.2f}" in text.split("Totals")[-1]


def test_admin_exports_commissions_and_platform_fees(app, data):
    client = login(app.test_client(), data["admin"])
    commissions = parse_csv(client.get("/admin/exports/commissions.csv"))
    assert commissions[1:] == expected_rows(ReportFilters(commission_only=True), exports.COMMISSION_COLUMNS)
    assert len(commissions) == 1 + 5  # void left out unless asked for
    void = parse_csv(client.get("/admin/exports/commissions.csv?tx_status=void"))
    assert [r[0] for r in void[1:]] == ["Voided deal"]
    fees = parse_csv(client.get("/admin/exports/platform-fees.csv"))
    header = fees[0]
    by_lead = {r[0]: dict(zip(header, r, strict=True)) for r in fees[1:]}
    assert (
        by_lead["Acme rollout"]["Fee settled"] == "Yes" and by_lead["Acme rollout"]["Fee settled date"] == "2026-02-01"
    )
    assert by_lead["Beta big deal"]["Fee settled"] == "No" and by_lead["Beta big deal"]["Platform fee"] == "80.00"
    page = client.get("/admin/exports").get_data(as_text=True)
    assert "Download commissions CSV" in page and "$201.67" in page


def test_csv_is_streamed_not_built_in_memory(app, data):
    response = super_client(app).get("/super/reports/export.csv")
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) == 1 + 10  # header, then one chunk per row
