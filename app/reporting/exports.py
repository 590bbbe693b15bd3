"""CSV and PDF output of report rows, shared by the super admin reports, CP statements and admin exports.

CSV rules (one writer for every export):
- streamed: a generator yields the header line, then one line per database row, so memory stays flat;
- the csv module quotes (minimal quoting, CRLF line ends), UTF-8 with a byte-order mark so spreadsheet
  programs read non-ASCII names correctly (parse it back with encoding "utf-8-sig");
- amounts are plain decimals with two places ("1000.00"), dates ISO ("2026-03-01");
- a text cell starting with = + - @ tab or carriage return gets a leading apostrophe, so a spreadsheet
  shows it as text instead of running it as a formula. Amount cells are never touched: they are numbers
  we format ourselves and are never negative, so "-" cannot begin one.
"""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Response

from app.extensions import db
from app.models.leads import STAGE_LABELS
from app.web.money import format_money

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    kind: str = "text"  # text | money | date | bool | stage | status
    width: float = 50  # points, in the PDF table
    clip: int = 0  # PDF: cut text longer than this many characters


LEAD = Column("Lead", "lead_title", width=114, clip=30)
CP = Column("Channel partner", "cp_name", width=96, clip=24)
CATEGORY = Column("Category", "category_name", width=70, clip=17)
STAGE = Column("Lead status", "stage", "stage", width=52)
WON = Column("Won date", "won_at", "date", width=52)
VALUE = Column("Lead value", "lead_value", "money", width=62)
GROSS = Column("Gross commission", "gross_commission", "money", width=62)
FEE = Column("Platform fee", "platform_fee", "money", width=56)
NET = Column("Net CP payment", "net_commission", "money", width=62)
STATUS = Column("Transaction status", "tx_status", "status", width=54)
CLIENT_PAID = Column("Client paid", "client_paid_at", "date", width=52)
SETTLED = Column("Settled to CP", "settled_at", "date", width=52)
FEE_SETTLED = Column("Fee settled", "fee_settled", "bool", width=40)
FEE_SETTLED_AT = Column("Fee settled date", "fee_settled_at", "date", width=52)

REPORT_COLUMNS = (LEAD, CP, CATEGORY, STAGE, WON, VALUE, GROSS, FEE, NET, STATUS, SETTLED, FEE_SETTLED)
STATEMENT_COLUMNS = (LEAD, CATEGORY, WON, VALUE, GROSS, FEE, NET, STATUS, CLIENT_PAID, SETTLED)
COMMISSION_COLUMNS = (LEAD, CP, CATEGORY, WON, VALUE, GROSS, FEE, NET, STATUS, CLIENT_PAID, SETTLED)
FEE_COLUMNS = (LEAD, CP, WON, GROSS, FEE, STATUS, FEE_SETTLED, FEE_SETTLED_AT)


def neutralise(text: str) -> str:
    """Defuse spreadsheet formula injection: a leading apostrophe makes the cell plain text."""
    return "'" + text if text and text.startswith(FORMULA_START) else text


def text_of(value, kind: str) -> str:
    """A cell's value as text, unescaped (for CSV and PDF alike)."""
    if value is None:
        return ""
    if kind == "money":
        return f"{value if isinstance(value, Decimal) else Decimal(value):.2f}"
    if kind == "date":
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    if kind == "bool":
        return "Yes" if value else "No"
    if kind == "stage":
        return STAGE_LABELS.get(value, str(value))
    if kind == "status":
        return str(value).capitalize()
    return str(value)


def plain(row, column: Column) -> str:
    value = row._mapping[column.key] if hasattr(row, "_mapping") else row[column.key]
    return text_of(value, column.kind)


def csv_text(value, kind: str) -> str:
    text = text_of(value, kind)
    return text if kind == "money" else neutralise(text)


def csv_lines(result, columns) -> "iter[str]":
    """Yield the CSV text line by line: header first, then one line per row of `result` (a SQLAlchemy result;
    each column is read by its position, found once, because a million rows make every lookup count)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        line = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return line

    keys = list(result.keys())
    cells = [(keys.index(c.key), c.kind) for c in columns]
    writer.writerow([c.header for c in columns])
    yield "\ufeff" + flush()
    for row in result:
        writer.writerow([csv_text(row[i], kind) for i, kind in cells])
        yield flush()


def csv_response(stmt, columns, filename: str) -> Response:
    """A streamed CSV download of a select's rows, read with a server-side cursor as the client downloads.

    The body reads on its own connection, opened when the body is first read and closed when it ends
    (or is abandoned), so no request or app context has to stay pushed while the download runs.
    """
    engine = db.engine

    def body():
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
            for line in csv_lines(result, columns):
                yield line.encode("utf-8")

    response = Response(body(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf_download(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def dated_filename(stem: str, ext: str) -> str:
    return f"{stem}-{datetime.now(UTC):%Y%m%d-%H%M}.{ext}"


def totals_cells(totals: dict, columns, label: str = "Totals") -> list[str]:
    """The totals row under a table: money columns summed (void excluded), first column labelled."""
    cells = []
    for i, column in enumerate(columns):
        if i == 0:
            cells.append(label)
        elif column.kind == "money" and column.key in totals:
            cells.append(f"{totals[column.key]:.2f}")
        else:
            cells.append("")
    return cells


def generated_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def period_text(date_from: date | None, date_to: date | None) -> str:
    return f"{date_from.isoformat() if date_from else 'the beginning'} to {date_to.isoformat() if date_to else 'today'}"


# --- PDF (reportlab) ---------------------------------------------------------------------------

FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def pdf_fonts() -> tuple[str, str]:
    """DejaVu Sans (renders names like "Ødegaard" or "Zoë Łukasz"); Helvetica only if it is not installed."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getRegisteredFontNames()
    if "DejaVuSans" in registered and "DejaVuSans-Bold" in registered:
        return "DejaVuSans", "DejaVuSans-Bold"
    import os

    if all(os.path.exists(path) for path in FONT_FILES):
        pdfmetrics.registerFont(TTFont("DejaVuSans", FONT_FILES[0]))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", FONT_FILES[1]))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _numbered_canvas(footer: str, font: str):
    """A canvas that writes "Page N of M" on every page once the page count is known."""
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802  (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            count = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                width = self._pagesize[0]
                self.setFont(font, 7)
                self.setFillColorRGB(0.42, 0.45, 0.5)
                self.drawString(28, 16, footer)
                self.drawRightString(width - 28, 16, f"Page {self._pageNumber} of {count}")
                super().showPage()
            super().save()

    return NumberedCanvas


def _styles(regular: str, bold: str) -> dict:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    navy = colors.HexColor("#1e3a8a")
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, textColor=navy, spaceAfter=4),
        "meta": ParagraphStyle(
            "meta", fontName=regular, fontSize=8.5, leading=11, textColor=colors.HexColor("#374151")
        ),
        "head": ParagraphStyle("head", fontName=bold, fontSize=7, leading=8.5, textColor=colors.white),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, textColor=navy, spaceBefore=8),
    }


def _clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters (a table cell of the report is one line high)."""
    text = " ".join(text.splitlines()) if "\n" in text or "\r" in text else text
    return text if not limit or len(text) <= limit else text[: limit - 1] + "…"


TABLE_FONT_SIZE, TABLE_PADDING = 7, 2
BODY_ROW_HEIGHT = TABLE_FONT_SIZE * 1.2 + 2 * TABLE_PADDING  # one line (reportlab's leading) and the paddings


def _table_style(regular: str, bold: str, columns, body_rows: int):
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    last = body_rows + 1
    commands = [
        ("FONT", (0, 0), (-1, -1), regular, TABLE_FONT_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1e3a8a")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, last - 1), [colors.white, colors.HexColor("#f3f5f9")]),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#e5e7eb")),
        ("FONT", (0, last), (-1, last), bold, TABLE_FONT_SIZE),
        ("LINEABOVE", (0, last), (-1, last), 1, colors.HexColor("#1e3a8a")),
        ("TOPPADDING", (0, 0), (-1, -1), TABLE_PADDING),
        ("BOTTOMPADDING", (0, 0), (-1, -1), TABLE_PADDING),
    ]
    for i, column in enumerate(columns):
        if column.kind == "money":
            commands.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
    return TableStyle(commands)


def report_pdf(rows, columns, *, title: str, filters: list, totals: dict, summary: str = "", on_drawn=None) -> bytes:
    """A landscape A4 PDF: title, filters applied, generated-at, a table whose header repeats on every
    page, a totals row, and "Page N of M". `on_drawn(n)` is told how many table rows are laid out so
    far, page by page (the export job's progress bar)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import Paragraph, Spacer, Table

    _ProgressDoc = _progress_doc_class()  # noqa: N806
    regular, bold = pdf_fonts()
    styles = _styles(regular, bold)
    story = [
        Paragraph(escape(title), styles["title"]),
        Paragraph("Filters: " + escape("; ".join(f"{label}: {value}" for label, value in filters)), styles["meta"]),
        Paragraph(f"Generated at {generated_at()}", styles["meta"]),
    ]
    if summary:
        story.append(Paragraph(escape(summary), styles["meta"]))
    story.append(Spacer(1, 8))
    data = [[Paragraph(escape(c.header), styles["head"]) for c in columns]]
    for row in rows:
        data.append([_clip(plain(row, c), c.clip) for c in columns])
    body_rows = len(data) - 1
    if not body_rows:
        data.append(["No rows match these filters."] + [""] * (len(columns) - 1))
        body_rows = 1
    data.append(totals_cells(totals, columns))
    # Every row but the header is one line (_clip): giving its height spares reportlab measuring every cell
    # again each time it splits the table at a page end.
    heights = [None] + [BODY_ROW_HEIGHT] * (len(data) - 1)
    table = Table(data, colWidths=[c.width for c in columns], rowHeights=heights, repeatRows=1)
    table.setStyle(_table_style(regular, bold, columns, body_rows))
    story.append(table)
    buffer = io.BytesIO()
    doc = _ProgressDoc(
        buffer, pagesize=landscape(A4), leftMargin=28, rightMargin=28, topMargin=28, bottomMargin=32, title=title
    )
    doc.on_drawn = on_drawn
    doc.build(story, canvasmaker=_numbered_canvas(f"LeadFlow PM · {title}", regular))
    return buffer.getvalue()


def _progress_doc_class():
    from reportlab.platypus import SimpleDocTemplate, Table

    class ProgressDoc(SimpleDocTemplate):
        """Counts the table rows drawn: each page gets one split piece of the table (header repeated)."""

        on_drawn = None
        drawn = 0

        def afterFlowable(self, flowable):  # noqa: N802  (reportlab's name)
            if self.on_drawn and isinstance(flowable, Table):
                self.drawn += max(flowable._nrows - 1, 0)
                self.on_drawn(self.drawn)

    return ProgressDoc


def totals_summary(totals: dict, currency: str | None = None) -> str:
    """The totals line under a report, in `currency` (the configured symbol unless given)."""
    gross, fee, net = (
        format_money(totals[key], currency) for key in ("gross_commission", "platform_fee", "net_commission")
    )
    return f"Totals (void excluded): {totals['rows']} leads · gross commission {gross} · platform fee {fee} · net CP payment {net}"


def _drawing(chart, regular: str):
    """The chart's series drawn with reportlab graphics (the same data as the SVG)."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    drawing = Drawing(760, 210)
    # reportlab cannot draw a line through fewer than two points (a one-period range, or a range with no data):
    # such a series is drawn as bars, which show the same values.
    bars = chart.kind == "bar" or min((sum(v is not None for v in s.values) for s in chart.series), default=0) < 2
    plot = VerticalBarChart() if bars else HorizontalLineChart()
    plot.x, plot.y, plot.width, plot.height = 56, 40, 560, 150
    plot.data = [tuple(float(v) if v is not None else None for v in s.values) or (0,) for s in chart.series]
    plot.categoryAxis.categoryNames = [label[:14] for label in chart.labels] or [""]
    plot.categoryAxis.labels.fontName = regular
    plot.categoryAxis.labels.fontSize = 6
    plot.categoryAxis.labels.angle = 30 if len(chart.labels) > 8 else 0
    plot.categoryAxis.labels.boxAnchor = "ne" if len(chart.labels) > 8 else "n"
    plot.valueAxis.labels.fontName = regular
    plot.valueAxis.labels.fontSize = 7
    plot.valueAxis.valueMin = 0
    plot.valueAxis.labelTextFormat = chart.axis_fmt
    for i, s in enumerate(chart.series):
        if bars:
            plot.bars[i].fillColor = colors.HexColor(s.color)
            plot.bars[i].strokeColor = None
        else:
            plot.lines[i].strokeColor = colors.HexColor(s.color)
            plot.lines[i].strokeWidth = 2
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = 636, 180, regular, 7
    legend.colorNamePairs = [(colors.HexColor(s.color), s.name) for s in chart.series]
    drawing.add(legend)
    return drawing


def analytics_pdf(chart_list, *, title: str, period: str) -> bytes:
    """The analytics page as a PDF: each chart redrawn from its series data, with its description."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate

    regular, bold = pdf_fonts()
    styles = _styles(regular, bold)
    story = [
        Paragraph(escape(title), styles["title"]),
        Paragraph(escape(f"Period: {period}"), styles["meta"]),
        Paragraph(f"Generated at {generated_at()}", styles["meta"]),
    ]
    for chart in chart_list:
        story.append(
            KeepTogether(
                [
                    Paragraph(escape(chart.title), styles["h2"]),
                    Paragraph(escape(chart.description), styles["meta"]),
                    _drawing(chart, regular),
                ]
            )
        )
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=28, rightMargin=28, topMargin=28, bottomMargin=32, title=title
    )
    doc.build(story, canvasmaker=_numbered_canvas(f"LeadFlow PM · {title}", regular))
    return buffer.getvalue()
