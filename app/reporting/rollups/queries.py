"""Reading the rollups: the platform, category and partner figures, and which rollup rows add up to a range.

`figures(...)` is the one entry point for "the figures over these leads": it returns them when the rollups
can answer for that narrowing, or None when they cannot (the caller reads the rows).

The hot read statements are built once per shape (which measures; which kinds of rows, with or without a
first and last day) with the days and keys as bound parameters, and kept (app.statements.per_shape):
building and hashing a select of forty-odd sums took longer than running it over the rollup's few hundred
rows. Only statements are kept, never a result.
"""

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models.rollups import ALL_TIME, DAY, MEASURES, MONEY_MEASURES, MONTH, WEEK, DailyRollup, PartnerMonthlyRollup
from app.statements import per_shape

Part = tuple[str, date | None, date | None]  # (period, first day, last day) of platform rollup rows; None: open


def sum_columns(table, measures=MEASURES) -> list:
    """SUM of each measure (NULL over no rows, which `values` reads as 0)."""
    return [sa.func.sum(getattr(table, m)).label(m) for m in measures]


def from_cents(cents_total) -> Decimal:
    """Integer cents as Decimal with two places, exactly."""
    return Decimal(int(cents_total or 0)).scaleb(-2)


def values(row, measures=MEASURES) -> dict:
    """A rollup sum as Python values: money measures as Decimal (from cents), counts as int."""
    data = row._mapping if hasattr(row, "_mapping") else row
    return {m: from_cents(data[m]) if m in MONEY_MEASURES else int(data[m] or 0) for m in measures}


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_end(day: date) -> date:
    return _next_month(day) - timedelta(days=1)


def period_start(day: date, period: str) -> date:
    """The first day of the week (Monday) or month `day` falls in; `day` itself for DAY."""
    if period == MONTH:
        return day.replace(day=1)
    return day - timedelta(days=day.weekday()) if period == WEEK else day


def rows_of(date_from: date | None, date_to: date | None, period: str = MONTH) -> tuple[Part, ...]:
    """The platform rollup's rows that add up to [date_from, date_to] (None: open), each day counted once: the
    rows of the whole months (or weeks) in it and the day rows of the (at most two) it cuts.

    Group them only by what is the same on every day of such a period (a month or week, a category)."""
    if period == DAY:
        return ((DAY, date_from, date_to),)
    first = date_from
    if date_from is not None and period_start(date_from, period) != date_from:  # the next period's first day
        first = _next_month(date_from) if period == MONTH else period_start(date_from, period) + timedelta(days=7)
    end = None if date_to is None else date_to + timedelta(days=1)  # the day after the last whole period
    if end is not None and period_start(end, period) != end:
        end = period_start(date_to, period)
    if first is not None and end is not None and first >= end:  # no whole period: days only
        return ((DAY, date_from, date_to),) if date_from <= date_to else ()
    parts = [(period, first, None if end is None else end - timedelta(days=1))]
    if date_from is not None and date_from < first:
        parts.append((DAY, date_from, first - timedelta(days=1)))
    if date_to is not None and end <= date_to:
        parts.append((DAY, end, date_to))
    return tuple(parts)


def rows_shape(parts: tuple[Part, ...]) -> tuple:
    """What a statement over these rows depends on, their days aside (a key for the kept statements)."""
    return tuple((period, first is not None, last is not None) for period, first, last in parts)


def rows_where(shape: tuple, prefix: str) -> sa.ColumnElement[bool]:
    """The condition for rows of this shape, their days bound parameters named after `prefix` (`rows_params`)."""
    table = DailyRollup
    alternatives = []
    for i, (period, has_first, has_last) in enumerate(shape):
        conditions = [table.period == period]
        if has_first:
            conditions.append(table.day >= sa.bindparam(f"{prefix}{i}_first"))
        if has_last:
            conditions.append(table.day <= sa.bindparam(f"{prefix}{i}_last"))
        alternatives.append(sa.and_(*conditions))
    return sa.or_(*alternatives) if alternatives else sa.false()


def rows_params(parts: tuple[Part, ...], prefix: str) -> dict:
    """The days of these rows as the bound parameters of `rows_where(rows_shape(parts), prefix)`."""
    found = {}
    for i, (_period, first, last) in enumerate(parts):
        if first is not None:
            found[f"{prefix}{i}_first"] = first
        if last is not None:
            found[f"{prefix}{i}_last"] = last
    return found


def period_rows(date_from: date | None, date_to: date | None, period: str = MONTH) -> sa.ColumnElement[bool]:
    """`rows_of` as a condition with its days in it (for a statement built on each call)."""
    table = DailyRollup
    alternatives = []
    for part, first, last in rows_of(date_from, date_to, period):
        conditions = [table.period == part]
        if first is not None:
            conditions.append(table.day >= first)
        if last is not None:
            conditions.append(table.day <= last)
        alternatives.append(sa.and_(*conditions))
    return sa.or_(*alternatives) if alternatives else sa.false()


def all_time_select(measures=MEASURES) -> sa.Select:
    """A select of the platform figures over all time (the month rows), to add columns to."""
    return sa.select(*sum_columns(DailyRollup, measures)).where(DailyRollup.period == MONTH)


@per_shape(maxsize=64)
def _platform_statement(measures: tuple, shape: tuple) -> sa.Select:
    return sa.select(*sum_columns(DailyRollup, measures)).where(rows_where(shape, "r"))


def platform_sums(date_from: date | None = None, date_to: date | None = None, measures=MEASURES) -> dict:
    """The platform figures over the whole days [date_from, date_to] (each measure by its own date); all time by default."""
    parts = rows_of(date_from, date_to)
    row = db.session.execute(_platform_statement(tuple(measures), rows_shape(parts)), rows_params(parts, "r")).one()
    return values(row, measures)


@per_shape(maxsize=64)
def _split_statement(measures: tuple, shape: tuple, extra: tuple) -> sa.Select:
    every, before = DailyRollup.period == MONTH, rows_where(shape, "r")

    def total(where, m):
        return sa.func.sum(sa.case((where, getattr(DailyRollup, m)), else_=0))

    stmt = sa.select(*(total(every, m) for m in measures), *(total(before, m) for m in measures), *extra)
    return stmt.where(sa.or_(every, before))


def platform_sums_split(
    split: date, measures, extra: tuple = (), params: dict | None = None
) -> tuple[dict, dict, tuple]:
    """The platform figures over all time and over the days before `split`, in one statement; `extra` are more
    columns for the same statement (scalar subqueries, with their `params`), returned as they come.
    Pass the same `extra` objects each time: the statement is built once per shape."""
    measures = tuple(measures)
    parts = rows_of(None, split - timedelta(days=1))
    stmt = _split_statement(measures, rows_shape(parts), tuple(extra))
    row = db.session.execute(stmt, {**rows_params(parts, "r"), **(params or {})}).one()
    count = len(measures)
    return (
        values(dict(zip(measures, row[:count], strict=True)), measures),
        values(dict(zip(measures, row[count : 2 * count], strict=True)), measures),
        tuple(row[2 * count :]),
    )


@per_shape(maxsize=16)
def _category_statement(measures: tuple) -> sa.Select:
    table = DailyRollup
    return sa.select(*sum_columns(table, measures)).where(
        table.period == MONTH, table.category_key == sa.bindparam("cat")
    )


def category_sums(category_id, measures=MEASURES) -> dict:
    """The platform figures of one category over all time (its month rows)."""
    return values(db.session.execute(_category_statement(tuple(measures)), {"cat": category_id}).one(), measures)


@per_shape(maxsize=16)
def _partner_statement(measures: tuple) -> sa.Select:
    table = PartnerMonthlyRollup
    return sa.select(*sum_columns(table, measures)).where(
        table.cp_key == sa.bindparam("cp_key"), table.month == ALL_TIME
    )


def partner_sums(cp_id, measures=MEASURES) -> dict:
    """One partner's figures over all time (its report rows: its commissions and its leads)."""
    return values(db.session.execute(_partner_statement(tuple(measures)), {"cp_key": cp_id}).one(), measures)


def figures(
    measures=MEASURES, *, cp_id=None, category_id=None, date_from: date | None = None, date_to: date | None = None
):
    """THE read entry point: the figures over the leads narrowed to at most one partner (the leads it is allocated,
    its commissions) or one category, as {measure: value}; or None: "I cannot answer, read the rows".

    The platform figures may be narrowed to whole days [date_from, date_to] as well; a partner's or a category's
    only over all time. Each answer is one statement over the rollup rows."""
    if cp_id is not None and category_id is not None:
        return None  # no rollup row is kept per partner and category
    if cp_id is not None or category_id is not None:
        if date_from is not None or date_to is not None:
            return None  # their rows are kept per month (partner) or read over all time (category)
        return partner_sums(cp_id, measures) if cp_id is not None else category_sums(category_id, measures)
    return platform_sums(date_from, date_to, measures)


def daily_grouped(key, date_from: date | None, date_to: date | None, measures, period: str = MONTH) -> list[dict]:
    """The platform figures over [date_from, date_to] summed per `key`, an SQL expression over DailyRollup that
    is the same on every day of a `period` (a month, a category: whole months come from the month rows;
    pass WEEK for a week key, DAY for a finer one)."""
    label = key.label("key")
    stmt = sa.select(label, *sum_columns(DailyRollup, measures)).where(period_rows(date_from, date_to, period))
    return [{"key": row.key, **values(row, measures)} for row in db.session.execute(stmt.group_by(label))]


def outside_days(date_from: date, date_to: date) -> list[tuple[date, date]]:
    """The days of the months [date_from, date_to] cuts that lie outside it (for `partner_months`)."""
    parts = [
        (_month_start(date_from), date_from - timedelta(days=1)),
        (date_to + timedelta(days=1), _month_end(date_to)),
    ]
    return [(start, end) for start, end in parts if start <= end]


def partner_months(date_from: date, date_to: date, rows_outside: int | None = None) -> tuple[date, date] | None:
    """The months the partner rollup can answer for [date_from, date_to] exactly, or None when it cannot.

    A month cut by the range is still exact when no report row falls in the part left out (the daily
    rollup tells at once, or the caller already counted them: `rows_outside`, over `outside_days`): so
    the usual "whole months up to today" ranges never touch the rows."""
    if rows_outside is None:
        days = outside_days(date_from, date_to)
        rows_outside = sum(platform_sums(start, end, ("rows",))["rows"] for start, end in days)
    return None if rows_outside else (_month_start(date_from), _month_start(date_to))
