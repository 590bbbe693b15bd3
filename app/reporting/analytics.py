"""Super admin analytics: time series and rankings, from the rollups of the report rows (app.reporting.rollups).

Every chart reads one statement over the rollups (`figures`); the partner ranking reads more of its
candidates only when the first batch does not settle it (app.reporting.rollups.top_partners).
Dates are bucketed in SQL by one helper, `bucket()`, that speaks both dialects: PostgreSQL's
date_trunc and SQLite's date modifiers, each giving the bucket's first day (weeks start on Monday in
both). Empty periods are filled with zeros in Python so every chart has one point per period of the
chosen range.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from app.extensions import db
from app.models import Category
from app.models.rollups import DAY, MONEY_MEASURES, DailyRollup
from app.reporting import charts, rollups
from app.reporting.reports import ReportFilters, grouped_totals
from app.reporting.rollups import ranking
from app.statements import per_shape
from app.validators import query_date
from app.web.money import currency_symbol, format_money

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


def range_from_args(args, today: date | None = None) -> Range:
    """Read from/to/grouping; defaults to the last twelve months by month. Too many weekly buckets → by month."""
    today = today or date.today()
    grouping = args.get("group") if args.get("group") in GROUPINGS else "month"
    date_to = query_date(args.get("date_to")) or today
    default_from = (date_to.replace(day=1) - timedelta(days=335)).replace(day=1)
    date_from = query_date(args.get("date_from")) or default_from
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    if grouping == "week" and len(bucket_keys(Range(date_from, date_to, "week"))) > MAX_BUCKETS:
        grouping = "month"
    return Range(date_from, date_to, grouping)


def bucket(column, grouping: str, dialect: str | None = None):
    """SQL for the first day (a date) of the week or month `column` falls in, on PostgreSQL or SQLite."""
    if (dialect or db.session.get_bind().dialect.name) == "postgresql":
        return sa.cast(sa.func.date_trunc(grouping, sa.cast(column, sa.DateTime)), sa.Date)
    if grouping == "month":
        return sa.type_coerce(sa.func.date(column, "start of month"), sa.Date)
    return sa.type_coerce(sa.func.date(column, "weekday 0", "-6 days"), sa.Date)  # the Sunday on/after, back to Monday


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
CATEGORY_MEASURES = ("rows", "won_leads", "lost_leads", "won_value")
FIGURE_MEASURES = tuple(dict.fromkeys(SERIES_MEASURES + CATEGORY_MEASURES))


@dataclass
class Figures:
    """What the charts show over a range: {bucket key: {measure: value}}, one row per category, how many
    report rows the months cut by the range hold outside it, and the first batch of candidates of the
    partner ranking (app.reporting.rollups.top_partners) over the range's months."""

    series: dict
    categories: list
    rows_outside: int
    candidates: list


def figures(rng: Range) -> Figures:
    """Every figure of the analytics page in one statement: over the platform rollup, per bucket (each measure
    there already keyed by its own date: created, won, closed) and per category, and the rows outside the
    range in the months it cuts; over the partner rollup, the ranking's first candidates (read along, as
    the usual range cuts no month with rows outside it). Whole months come from the month rows (weeks from
    the week rows); only the days of a period the range cuts come from the day rows."""
    rows = rollups.rows_of(rng.date_from, rng.date_to, rng.grouping)
    months = rollups.rows_of(rng.date_from, rng.date_to)
    outside = tuple((DAY, start, end) for start, end in rollups.outside_days(rng.date_from, rng.date_to))
    shapes = (rollups.rows_shape(rows), rollups.rows_shape(months), rollups.rows_shape(outside))
    stmt = _figures_statement(db.session.get_bind().dialect.name, rng.grouping, ranking.RANKING_BATCH, *shapes)
    params = {**rollups.rows_params(rows, "b"), **rollups.rows_params(months, "c"), **rollups.rows_params(outside, "o")}
    params.update(offset=0, first_month=rng.date_from.replace(day=1), last_month=rng.date_to.replace(day=1))
    found = Figures(series={}, categories=[], rows_outside=0, candidates=[])
    merged: dict = {}
    for row in db.session.execute(stmt, params):
        if row.part == "bucket":
            found.series[row.bucket.isoformat()] = rollups.values(row, SERIES_MEASURES)
        elif row.part == "category":  # unknown or deleted categories are folded into "Uncategorised"
            category_id = row.key if row.name is not None else None
            into = merged.setdefault(category_id, {"category_id": category_id, "category_name": row.name})
            for m in CATEGORY_MEASURES:
                into[m] = into.get(m, 0) + row._mapping[m]
        elif row.part == "partner":
            found.candidates.append(SimpleNamespace(cp_key=row.key, cp_name=row.name, **row._mapping))
        else:
            found.rows_outside = int(row.rows or 0)
    found.categories = [{**r, **rollups.values(r, CATEGORY_MEASURES)} for r in merged.values() if r["rows"]]
    return found


@per_shape(maxsize=64)
def _figures_statement(
    dialect: str, grouping: str, batch: int, rows: tuple, months: tuple, outside: tuple
) -> sa.CompoundSelect:
    """The statement of `figures` for rows of these shapes (see app.reporting.rollups), built once per shape.

    Its branches share the columns (part, bucket, key, name, bound, measures...), NULL where they do not apply."""
    table = DailyRollup
    sums = [sa.func.sum(getattr(table, m)).label(m) for m in FIGURE_MEASURES]
    key = bucket(table.day, grouping, dialect)
    no_day, no_key, no_name = sa.cast(sa.null(), sa.Date), sa.cast(sa.null(), sa.Uuid), sa.cast(sa.null(), sa.String)
    no_number = sa.cast(sa.null(), sa.BigInteger)
    by_bucket = sa.select(
        sa.literal("bucket").label("part"),
        key.label("bucket"),
        no_key.label("key"),
        no_name.label("name"),
        no_number.label("bound"),
        *sums,
    )
    by_bucket = by_bucket.where(rollups.rows_where(rows, "b")).group_by(key)
    by_category = (
        sa.select(sa.literal("category"), no_day, table.category_key, Category.name, no_number, *sums)
        .outerjoin(Category, Category.id == table.category_key)
        .where(rollups.rows_where(months, "c"))
        .group_by(table.category_key, Category.name)
    )
    candidates = rollups.candidates_select(batch).subquery("candidates_sums")
    partners = sa.select(
        sa.literal("partner"),
        no_day,
        candidates.c.cp_key,
        candidates.c.cp_name,
        candidates.c.bound,
        *(candidates.c[m] if m in rollups.RANKED_MEASURES else no_number for m in FIGURE_MEASURES),
    )
    parts = [by_bucket, by_category, partners]
    if outside:
        parts.append(
            sa.select(sa.literal("outside"), no_day, no_key, no_name, no_number, *sums).where(
                rollups.rows_where(outside, "o")
            )
        )
    return sa.union_all(*parts)


def win_rate_percent(won: int, lost: int) -> float | None:
    """Won ÷ closed (won + lost) in percent, to one decimal; None when nothing closed."""
    closed = won + lost
    return round(100 * won / closed, 1) if closed else None


def period_rows(rng: Range, figs: Figures | None = None) -> list[dict]:
    """One row per period of the range, zeros where nothing happened: its first day ("start"), its label and
    the series' measures (created_leads, transactions = leads won, closed_won, closed_lost, money)."""
    found = (figs or figures(rng)).series
    zeros = {m: ZERO if m in MONEY_MEASURES else 0 for m in SERIES_MEASURES}
    return [
        {"start": date.fromisoformat(k), "label": bucket_label(k, rng.grouping), **found.get(k, zeros)}
        for k in bucket_keys(rng)
    ]


def _fill(found: dict, keys: list[str], measure: str, zero=0) -> list:
    return [found[k][measure] if k in found else zero for k in keys]


def lead_volume(rng: Range, currency: str | None = None, figs: Figures | None = None) -> charts.Chart:
    keys = bucket_keys(rng)
    found = (figs or figures(rng)).series
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


def win_rate(rng: Range, currency: str | None = None, figs: Figures | None = None) -> charts.Chart:
    """Won ÷ (won + lost) among leads closed in each period (closed = moved to Won or Lost, by stage date)."""
    keys = bucket_keys(rng)
    closed = (figs or figures(rng)).series
    rates, won_counts, closed_counts = [], [], []
    for k in keys:
        won, lost = (closed[k]["closed_won"], closed[k]["closed_lost"]) if k in closed else (0, 0)
        rates.append(win_rate_percent(won, lost))
        won_counts.append(str(won))
        closed_counts.append(str(won + lost))
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


def revenue(rng: Range, currency: str | None = None, figs: Figures | None = None) -> charts.Chart:
    keys = bucket_keys(rng)
    sums = (figs or figures(rng)).series
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
        currency=currency or currency_symbol(),
    )


def _rate(row) -> str:
    rate = win_rate_percent(row["won_leads"], row["lost_leads"])
    return "—" if rate is None else f"{rate:.1f} %"


def _range_filters(rng: Range) -> ReportFilters:
    return ReportFilters(date_from=rng.date_from, date_to=rng.date_to)


def top_partner_rows(rng: Range, figs: Figures | None = None, limit: int = 10) -> list[dict]:
    """CPs ranked by won value over rows dated in the range (won date, or created date for unwon leads):
    {cp_id, cp_name, won_value, won_leads, lost_leads, ...}, highest first."""
    months = rollups.partner_months(rng.date_from, rng.date_to, figs.rows_outside if figs else None)
    if months is not None:
        return rollups.top_partners(*months, limit=limit, first_batch=figs.candidates if figs else None)
    # the range cuts a month that has rows outside it: only the rows can answer exactly
    rows = [r for r in grouped_totals(_range_filters(rng), "cp_id", "cp_name") if r["cp_id"] is not None]
    rows.sort(key=lambda r: (-r["won_value"], -r["won_leads"], r["cp_name"] or ""))
    return rows[:limit]


def top_partners(rng: Range, currency: str | None = None, figs: Figures | None = None, limit: int = 10) -> charts.Chart:
    """CPs ranked by won value over rows dated in the range (won date, or created date for unwon leads)."""
    rows = top_partner_rows(rng, figs, limit)
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
        currency=currency or currency_symbol(),
        extra_columns=[("Won leads", [str(r["won_leads"]) for r in rows]), ("Win rate", [_rate(r) for r in rows])],
    )


def category_rows(rng: Range, figs: Figures | None = None) -> list[dict]:
    """Per category (None: uncategorised) its leads ("rows"), won and lost leads and won value in the range,
    busiest first."""
    rows = list((figs or figures(rng)).categories)
    rows.sort(key=lambda r: (-r["rows"], r["category_name"] or ""))
    return rows


def categories(rng: Range, currency: str | None = None, figs: Figures | None = None) -> charts.Chart:
    rows = category_rows(rng, figs)
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
            ("Won value", [format_money(r["won_value"], currency) for r in rows]),
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


def build(name: str, rng: Range, currency: str | None = None, figs: Figures | None = None) -> charts.Chart:
    """One chart; `figs` (from figures()) lets the charts share one query."""
    return CHARTS[name](rng, currency, figs)


def all_charts(rng: Range, currency: str | None = None) -> list[charts.Chart]:
    figs = figures(rng)
    return [build(name, rng, currency, figs) for name in CHARTS]
