"""Maintained aggregates of the report rows: kept in step by ONE session hook, rebuilt and reconciled from the rows.

- facts.py    one lead's fact row and what it contributes to which rollup row (`contributions`, `fold`)
- hook.py     THE session hook (and its contract with the pipeline's stage-change UPDATE), installed by `init_app`
- store.py    the upserts of a flush's deltas; `rebuild()` from the rows; `reconcile()` against them
- queries.py  the reads: `figures(...)`, the one entry point that answers or says "read the rows" (None),
              and the range helpers the analytics statements are built from
- ranking.py  the partner ranking over whole months

The models are app.models.rollups. Callers use this package's names (`rollups.figures`, `rollups.reconcile`...).
"""

from app.reporting.rollups import hook
from app.reporting.rollups.facts import cents, contributions, facts_select, fold
from app.reporting.rollups.queries import (
    DailyRollup,
    all_time_select,
    category_sums,
    daily_grouped,
    figures,
    from_cents,
    outside_days,
    partner_months,
    partner_sums,
    period_rows,
    period_start,
    platform_sums,
    platform_sums_split,
    rows_of,
    rows_params,
    rows_shape,
    rows_where,
    sum_columns,
    values,
)
from app.reporting.rollups.ranking import RANKED_MEASURES, candidates_select, top_partners
from app.reporting.rollups.store import rebuild, reconcile

__all__ = [
    "RANKED_MEASURES",
    "DailyRollup",
    "all_time_select",
    "candidates_select",
    "category_sums",
    "cents",
    "contributions",
    "daily_grouped",
    "facts_select",
    "figures",
    "fold",
    "from_cents",
    "init_app",
    "outside_days",
    "partner_months",
    "partner_sums",
    "period_rows",
    "period_start",
    "platform_sums",
    "platform_sums_split",
    "rebuild",
    "reconcile",
    "rows_of",
    "rows_params",
    "rows_shape",
    "rows_where",
    "sum_columns",
    "top_partners",
    "values",
]


def init_app(app) -> None:
    """Install the session hook that keeps the rollups in step (once per process: it is session-wide)."""
    hook.register()
