"""The dashboard's two forms: the date range (a GET form: presets or a first and last month) and the partner's goal."""

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from app.models.goals import GOAL_PERIODS
from app.reporting.partner_dashboard import MonthRange, month_add, months_between

PRESETS = {
    "this_month": "This month",
    "last_month": "Last month",
    "last_3_months": "Last 3 months",
    "ytd": "Year to date",
    "last_12_months": "Last 12 months",
    "last_year": "Last year",
    "custom": "Custom months",
}
DEFAULT_PRESET = "last_12_months"
MAX_MONTHS = 60
FIRST_YEAR = 2000
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")


def preset_range(preset: str, today: date) -> MonthRange:
    """The whole months a preset stands for, counted from the month of `today` (UTC)."""
    now = today.replace(day=1)
    first, last = {
        "this_month": (now, now),
        "last_month": (month_add(now, -1), month_add(now, -1)),
        "last_3_months": (month_add(now, -2), now),
        "ytd": (now.replace(month=1), now),
        "last_year": (date(now.year - 1, 1, 1), date(now.year - 1, 12, 1)),
    }.get(preset, (month_add(now, -11), now))
    return MonthRange(first, last, preset if preset in PRESETS else DEFAULT_PRESET)


def parse_month(raw: str | None) -> date | None:
    """A month typed as YYYY-MM (what <input type="month"> sends), or None when it is not one."""
    match = MONTH_PATTERN.fullmatch((raw or "").strip())
    if not match or not 1 <= int(match[2]) <= 12:
        return None
    return date(int(match[1]), int(match[2]), 1)


class RangeForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    range = SelectField(
        "Period",
        choices=[SelectChoice(key, label) for key, label in PRESETS.items()],
        default=DEFAULT_PRESET,
        id="range-preset",
    )
    date_from = StringField("First month", render_kw={"type": "month"}, id="range-from")
    date_to = StringField("Last month", render_kw={"type": "month"}, id="range-to")

    def month_range(self, today: date) -> MonthRange:
        """The range asked for; call after validate(). An invalid form shows the default range."""
        if self.errors or self.range.data != "custom":
            return preset_range(self.range.data if not self.errors else DEFAULT_PRESET, today)
        return MonthRange(parse_month(self.date_from.data), parse_month(self.date_to.data), "custom")

    def validate_custom(self, today: date) -> bool:
        """Custom months: both given as YYYY-MM, from 2000 to this month, the first not after the last, five years
        at most. Each complaint is put beside its field."""
        if not self.validate() or self.range.data != "custom":
            return not self.errors
        now, months = today.replace(day=1), {}
        for name in ("date_from", "date_to"):
            month = parse_month(self[name].data)
            if month is None:
                self[name].errors.append("Enter a month as YYYY-MM, e.g. 2026-03.")
            elif not date(FIRST_YEAR, 1, 1) <= month <= now:
                self[name].errors.append(f"Choose a month from January {FIRST_YEAR} to this month.")
            else:
                months[name] = month
        if len(months) == 2 and months["date_from"] > months["date_to"]:
            self.date_to.errors.append("The last month cannot be before the first.")
        elif len(months) == 2 and len(months_between(months["date_from"], months["date_to"])) > MAX_MONTHS:
            self.date_to.errors.append(f"Choose at most {MAX_MONTHS} months.")
        return not any(self[name].errors for name in ("date_from", "date_to"))


class GoalForm(FlaskForm):
    amount = StringField("Goal amount (gross commission)", id="goal-amount")
    period = SelectField(
        "Per", choices=[SelectChoice(p, p.capitalize()) for p in GOAL_PERIODS], default="month", id="goal-period"
    )
