"""Super admin analytics: time series and rankings, all aggregated over the report select.

Dates are bucketed in SQL by one helper, `bucket()`, that speaks both dialects: PostgreSQL's
date_trunc and SQLite's strftime/date modifiers, each giving the bucket's first day as
'YYYY-MM-DD' (weeks start on Monday in both). Empty periods are filled with zeros in Python so
every chart has one point per period of the chosen range.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import Category
from app.models.rollups import DailyRollup
from app.services import charts, rollups
from app.services.reports import ReportFilters, grouped_totals

GROUPINGS = ("week", "month")
ZERO = Decimal("0.00")
MAX_BUCKETS = 104


@dataclass(frozen=True)
class Range:
    date_from: date
    date_to: date
    grouping: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.date_to + timedelta(days=1), time.min)

    def params(self) -> dict:
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(), "group": self.grouping}


def _parse(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def range_from_args(args, today: date | None = None) -> Range:
    """Read from/to/grouping; defaults to the last twelve months by month. Too many weekly buckets → by month."""
    today = today or date.today()
    grouping = args.get("group") if args.get("group") in GROUPINGS else "month"
    date_to = _parse(args.get("date_to")) or today
    default_from = (date_to.replace(day=1) - timedelta(days=335)).replace(day=1)
    date_from = _parse(args.get("date_from")) or default_from
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    if grouping == "week" and len(bucket_keys(Range(date_from, date_to, "week"))) > MAX_BUCKETS:
        grouping = "month"
    return Range(date_from, date_to, grouping)


def bucket(column, grouping: str):
    """SQL for the first day ('YYYY-MM-DD') of the week or month `column` falls in, on PostgreSQL or SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.date_trunc(grouping, column), "YYYY-MM-DD")
    if grouping == "month":
        return sa.func.strftime("%Y-%m-01", column)
    return sa.func.date(column, "weekday 0", "-6 days")  # the Sunday on/after, back to its Monday


def bucket_start(day: date, grouping: str) -> date:
    return day.replace(day=1) if grouping == "month" else day - timedelta(days=day.weekday())


def bucket_keys(rng: Range) -> list[str]:
    keys, current = [], bucket_start(rng.date_from, rng.grouping)
    while current <= rng.date_to:
        keys.append(current.isoformat())
        if rng.grouping == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=7)
    return keys


def bucket_label(key: str, grouping: str) -> str:
    day = date.fromisoformat(key)
    return day.strftime("%b %Y") if grouping == "month" else day.strftime("%d %b %Y")


SERIES_MEASURES = ("created_leads", "transactions", "closed_won", "closed_lost")
SERIES_MEASURES += ("gross_commission", "platform_fee", "net_commission")


def series(rng: Range) -> dict[str, dict]:
    """{bucket key: {measure: value}} of every time chart, in one query over the daily rollup
    (each measure there is already keyed by its own date: created, won, closed)."""
    rows = rollups.daily_grouped(bucket(DailyRollup.day, rng.grouping), rng.date_from, rng.date_to, SERIES_MEASURES)
    return {str(row["key"])[:10]: row for row in rows}


def _fill(found: dict, keys: list[str], measure: str, zero=0) -> list:
    return [found[k][measure] if k in found else zero for k in keys]


def lead_volume(rng: Range, found: dict | None = None) -> charts.Chart:
    keys = bucket_keys(rng)
    found = series(rng) if found is None else found
    return charts.Chart(
        key="lead-volume",
        title="Lead volume",
        description=f"Leads created and leads won per {rng.grouping}, {rng.date_from} to {rng.date_to}.",
        kind="bar",
        labels=[bucket_label(k, rng.grouping) for k in keys],
        series=[
            charts.Series("Leads created", _fill(found, keys, "created_leads"), charts.BLUE),
            charts.Series("Leads won", _fill(found, keys, "transactions"), charts.GREEN),
        ],
        x_label=rng.grouping.capitalize(),
        y_label="Leads",
    )


def win_rate(rng: Range, found: dict | None = None) -> charts.Chart:
    """Won ÷ (won + lost) among leads closed in each period (closed = moved to Won or Lost, by stage date)."""
    keys = bucket_keys(rng)
    closed = series(rng) if found is None else found
    rates, won_counts, closed_counts = [], [], []
    for k in keys:
        won, total = (
            (closed[k]["closed_won"], closed[k]["closed_won"] + closed[k]["closed_lost"]) if k in closed else (0, 0)
        )
        rates.append(round(100 * won / total, 1) if total else None)
        won_counts.append(str(won))
        closed_counts.append(str(total))
    return charts.Chart(
        key="win-rate",
        title="Win rate",
        description=f"Share of closed leads that were won, per {rng.grouping}; periods with no closed lead are blank.",
        kind="line",
        labels=[bucket_label(k, rng.grouping) for k in keys],
        series=[charts.Series("Win rate", rates, charts.GREEN)],
        x_label=rng.grouping.capitalize(),
        y_label="Won ÷ closed",
        value_format="percent",
        extra_columns=[("Won", won_counts), ("Closed", closed_counts)],
    )


def revenue(rng: Range, currency: str = "$", found: dict | None = None) -> charts.Chart:
    keys = bucket_keys(rng)
    sums = series(rng) if found is None else found
    return charts.Chart(
        key="revenue",
        title="Revenue trends",
        description=f"Gross commission, platform fee and net CP payment on leads won per {rng.grouping} (void excluded).",
        kind="line",
        labels=[bucket_label(k, rng.grouping) for k in keys],
        series=[
            charts.Series("Gross commission", _fill(sums, keys, "gross_commission", ZERO), charts.NAVY),
            charts.Series("Platform fee", _fill(sums, keys, "platform_fee", ZERO), charts.SKY),
            charts.Series("Net CP payment", _fill(sums, keys, "net_commission", ZERO), charts.BLUE),
        ],
        x_label=rng.grouping.capitalize(),
        y_label="Amount",
        value_format="money",
        currency=currency,
    )


def _rate(row) -> str:
    closed = row["won_leads"] + row["lost_leads"]
    return f"{100 * row['won_leads'] / closed:.1f} %" if closed else "—"


def _range_filters(rng: Range) -> ReportFilters:
    return ReportFilters(date_from=rng.date_from, date_to=rng.date_to)


def top_partners(rng: Range, currency: str = "$", limit: int = 10) -> charts.Chart:
    """CPs ranked by won value over rows dated in the range (won date, or created date for unwon leads)."""
    months = rollups.partner_months(rng.date_from, rng.date_to)
    if months is not None:
        rows = rollups.top_partners(*months, limit=limit)
    else:  # the range cuts a month that has rows outside it: only the rows can answer exactly
        rows = [r for r in grouped_totals(_range_filters(rng), "cp_id", "cp_name") if r["cp_id"] is not None]
        rows.sort(key=lambda r: (-r["won_value"], -r["won_leads"], r["cp_name"] or ""))
        rows = rows[:limit]
    return charts.Chart(
        key="top-partners",
        title="Top-performing channel partners",
        description="Won lead value per channel partner in the range, highest first, with won count and win rate.",
        kind="bar",
        labels=[r["cp_name"] or "—" for r in rows],
        series=[charts.Series("Won value", [r["won_value"] for r in rows], charts.NAVY)],
        x_label="Channel partner",
        y_label="Won value",
        value_format="money",
        currency=currency,
        extra_columns=[("Won leads", [str(r["won_leads"]) for r in rows]), ("Win rate", [_rate(r) for r in rows])],
    )


def _category_rows(rng: Range) -> list[dict]:
    """Per category (unknown or deleted ones folded into "Uncategorised"), from the daily rollup."""
    names = dict(db.session.execute(sa.select(Category.id, Category.name)).all())
    measures = ("rows", "won_leads", "lost_leads", "won_value")
    merged: dict = {}
    for row in rollups.daily_grouped(DailyRollup.category_key, rng.date_from, rng.date_to, measures):
        category_id = row["key"] if row["key"] in names else None
        into = merged.setdefault(category_id, {"category_id": category_id, "category_name": names.get(category_id)})
        for m in measures:
            into[m] = into.get(m, 0) + row[m]
    return [r for r in merged.values() if r["rows"]]


def categories(rng: Range, currency: str = "$") -> charts.Chart:
    rows = _category_rows(rng)
    rows.sort(key=lambda r: (-r["rows"], r["category_name"] or ""))
    return charts.Chart(
        key="categories",
        title="Category performance",
        description="Leads and won leads per category in the range, with won value and win rate in the table.",
        kind="bar",
        labels=[r["category_name"] or "Uncategorised" for r in rows],
        series=[
            charts.Series("Leads", [int(r["rows"]) for r in rows], charts.SKY),
            charts.Series("Won", [int(r["won_leads"]) for r in rows], charts.GREEN),
        ],
        x_label="Category",
        y_label="Leads",
        extra_columns=[
            ("Won value", [f"{currency}{r['won_value']:,.2f}" for r in rows]),
            ("Win rate", [_rate(r) for r in rows]),
        ],
    )


CHARTS = {
    "lead-volume": lead_volume,
    "win-rate": win_rate,
    "top-partners": top_partners,
    "categories": categories,
    "revenue": revenue,
}


def build(name: str, rng: Range, currency: str = "$", found: dict | None = None) -> charts.Chart:
    """One chart; `found` (from series()) lets several time charts share one query."""
    func = CHARTS[name]
    if name in ("lead-volume", "win-rate"):
        return func(rng, found)
    return func(rng, currency, found) if name == "revenue" else func(rng, currency)


def all_charts(rng: Range, currency: str = "$") -> list[charts.Chart]:
    found = series(rng)
    return [build(name, rng, currency, found) for name in CHARTS]
