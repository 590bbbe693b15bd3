"""The partner dashboard's performance figures over a range of whole months (issue #20 item 4, SPEC §9.6).

Every figure comes from ONE statement over the partner's monthly rollup (app.models.rollups.PartnerMonthlyRollup):
its all-time row (the account cards and the pipeline by stage) and its month rows from the earlier of the range's
first month and January of the range's last year, up to the range's last month. The rollup keeps a partner's
figures per calendar month, so the range is made of whole months: each figure is then exact to the cent,
whatever the volume, and a custom range is a first and a last month.

A lead's figures are dated by its report day (app.reporting.reports: the won date for a lead with a commission,
else its created date). Definitions shown on the page:
- commission: gross commission of its non-void transactions won in the months (net beside it);
- conversion: won ÷ (won + lost) among its leads dated in the months (open leads are not counted);
- funnel: its leads dated in the months, each bar counting the leads now at that stage or further along;
  a lost lead counts only as assigned (the stage it was lost at is not kept).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models.leads import STAGE_LABELS, STAGES
from app.models.rollups import ALL_TIME, MEASURES, PartnerMonthlyRollup
from app.reporting import charts, rollups
from app.statements import per_shape

ZERO = Decimal("0.00")
FUNNEL = ("contacted", "qualified", "proposal", "negotiation", "won")  # after "Assigned", in pipeline order
OPEN_AFTER = {stage: STAGES[STAGES.index(stage) : STAGES.index("won") + 1] for stage in FUNNEL}
RANGE_MEASURES = (
    "rows",
    "won_leads",
    "lost_leads",
    "gross_commission",
    "platform_fee",
    "net_commission",
    *(f"stage_{s}" for s in STAGES),
)


def month_add(month: date, count: int) -> date:
    """The first day of the month `count` months after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month's first day from `first` to `last`, inclusive."""
    count = (last.year - first.year) * 12 + last.month - first.month
    return [month_add(first, i) for i in range(count + 1)]


@dataclass(frozen=True)
class MonthRange:
    """Whole months from `first` to `last` (each the first day of its month); `preset` names how it was chosen."""

    first: date
    last: date
    preset: str = "custom"

    @property
    def months(self) -> list[date]:
        return months_between(self.first, self.last)

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.strftime("%B %Y")
        return f"{self.first:%b %Y} – {self.last:%b %Y}"

    def params(self) -> dict:
        """The query string that reproduces the range (the page renders in full from it)."""
        if self.preset != "custom":
            return {"range": self.preset}
        return {"range": "custom", "date_from": f"{self.first:%Y-%m}", "date_to": f"{self.last:%Y-%m}"}


@dataclass
class Performance:
    """What the dashboard shows: the all-time sums, the range's sums, each month's sums, and the anchor month."""

    all_time: dict
    in_range: dict
    by_month: dict = field(default_factory=dict)
    anchor: date | None = None  # the range's last month: "this month" and "year to date" are counted up to it

    def commission_between(self, first: date, last: date) -> Decimal:
        return sum(
            (self.by_month[m]["gross_commission"] for m in months_between(first, last) if m in self.by_month), ZERO
        )

    @property
    def month_commission(self) -> Decimal:
        return self.commission_between(self.anchor, self.anchor)

    @property
    def year_commission(self) -> Decimal:
        return self.commission_between(self.anchor.replace(month=1), self.anchor)

    @property
    def conversion(self) -> float | None:
        """Won ÷ closed (won + lost) in percent, to one decimal; None when no lead of the range is closed."""
        won, lost = self.in_range["won_leads"], self.in_range["lost_leads"]
        return round(100 * won / (won + lost), 1) if won + lost else None


def _zeros(measures) -> dict:
    return rollups.values({m: 0 for m in measures}, measures)


@per_shape(maxsize=1)
def _statement() -> sa.Select:
    table = PartnerMonthlyRollup
    months = sa.and_(table.month >= sa.bindparam("first"), table.month <= sa.bindparam("last"))
    return sa.select(table.month, *(getattr(table, m) for m in MEASURES)).where(
        table.cp_key == sa.bindparam("cp_key"), sa.or_(table.month == ALL_TIME, months)
    )


def performance(partner, rng: MonthRange) -> Performance:
    """The partner's figures over `rng` and over all time, in one statement over its rollup rows (see the module)."""
    first = min(rng.first, rng.last.replace(month=1))
    rows = db.session.execute(_statement(), {"cp_key": partner.id, "first": first, "last": rng.last})
    found = Performance(all_time=_zeros(MEASURES), in_range=_zeros(RANGE_MEASURES), anchor=rng.last)
    for row in rows:
        if row.month == ALL_TIME:
            found.all_time = rollups.values(row)
            continue
        found.by_month[row.month] = rollups.values(row, RANGE_MEASURES)
        if rng.first <= row.month <= rng.last:
            for m in RANGE_MEASURES:
                found.in_range[m] += found.by_month[row.month][m]
    return found


def funnel_counts(sums: dict) -> list[tuple[str, int]]:
    """(label, leads) from "Assigned" (every lead of the range) to "Won", each counting leads now at or past it."""
    steps = [("Assigned", sums["rows"])]
    steps += [(STAGE_LABELS[s], sum(sums[f"stage_{later}"] for later in OPEN_AFTER[s])) for s in FUNNEL]
    return steps


def trend_chart(perf: Performance, rng: MonthRange, currency: str) -> charts.Chart:
    """Gross and net commission per month of the range (a line chart; months with nothing are zero)."""
    months = rng.months
    sums = [perf.by_month.get(m) for m in months]
    return charts.Chart(
        key="cp-commission-trend",
        title="Commission trend",
        description=f"Gross and net commission on leads won per month, {rng.label}.",
        kind="line" if len(months) > 1 else "bar",
        labels=[f"{m:%b %Y}" for m in months],
        series=[
            charts.Series("Gross commission", [s["gross_commission"] if s else ZERO for s in sums], charts.NAVY),
            charts.Series("Net commission", [s["net_commission"] if s else ZERO for s in sums], charts.BLUE),
        ],
        x_label="Month",
        y_label="Commission",
        value_format="money",
        currency=currency,
        height=260,
    )


def funnel_chart(perf: Performance, rng: MonthRange) -> charts.Chart:
    steps = funnel_counts(perf.in_range)
    return charts.Chart(
        key="cp-funnel",
        title="Pipeline funnel",
        description=f"Your leads dated {rng.label}: how many are now at each stage or further along.",
        kind="bar",
        labels=[label for label, _ in steps],
        series=[charts.Series("Leads", [count for _, count in steps], charts.BLUE)],
        x_label="Stage reached",
        y_label="Leads",
        height=260,
    )


@dataclass(frozen=True)
class GoalProgress:
    """How far the partner is toward its goal in the goal's period that holds the range's last month."""

    amount: Decimal
    period: str
    first: date
    last: date
    earned: Decimal

    @property
    def percent(self) -> int:
        return int(self.earned * 100 / self.amount) if self.amount else 0

    @property
    def remaining(self) -> Decimal:
        return max(self.amount - self.earned, ZERO)

    @property
    def label(self) -> str:
        if self.period == "month":
            return self.first.strftime("%B %Y")
        if self.period == "quarter":
            return f"Q{(self.first.month - 1) // 3 + 1} {self.first.year}"
        return str(self.first.year)


def goal_progress(goal, perf: Performance) -> GoalProgress | None:
    """The goal's progress from the figures already read (its period lies inside the months `performance` read)."""
    if goal is None:
        return None
    anchor = perf.anchor
    starts = {"month": anchor, "quarter": anchor.replace(month=(anchor.month - 1) // 3 * 3 + 1)}
    first = starts.get(goal.period, anchor.replace(month=1))
    return GoalProgress(goal.amount, goal.period, first, anchor, perf.commission_between(first, anchor))
