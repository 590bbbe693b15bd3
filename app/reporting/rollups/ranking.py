"""The partner ranking over whole months of the partner rollup (the super admin's "top partners")."""

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models.rollups import ALL_TIME, NO_KEY, PartnerMonthlyRollup
from app.reporting.rollups.facts import cents
from app.reporting.rollups.queries import sum_columns, values
from app.statements import per_shape

RANKING_BATCH = 50
RANKING_MAX_CANDIDATES = 1000
RANKED_MEASURES = ("rows", "won_leads", "lost_leads", "won_value")


def top_partners(first_month: date, last_month: date, limit: int, first_batch: list | None = None) -> list[dict]:
    """Partners ranked by won value, then won count, then name, over whole months of the partner rollup.

    A partner's won value in a range is at most its all-time won value, so candidates are taken in
    order of the all-time figure, a batch at a time (one statement: the candidates with their sums
    over the months), until the last place of the ranking beats every candidate left; only when that
    fails to settle quickly (many ties) are all partners summed. `first_batch`: the rows of the first
    batch when the caller read them already (`candidates_select` inside its own statement)."""
    ranked: list[dict] = []
    offset = 0
    while offset < RANKING_MAX_CANDIDATES:
        if offset == 0 and first_batch is not None:
            batch = first_batch
        else:
            params = {"offset": offset, "first_month": first_month, "last_month": last_month}
            batch = db.session.execute(candidates_select(RANKING_BATCH), params).all()
        found = [_partner_row(r) for r in batch if r.cp_name is not None and r.rows]  # gone, or no rows: left out
        ranked = _ranked(ranked + found, limit)
        if len(batch) < RANKING_BATCH:
            return ranked  # every partner considered
        offset += RANKING_BATCH
        if len(ranked) == limit and cents(ranked[-1]["won_value"]) > min(r.bound for r in batch):
            return ranked
    return _ranked(_range_sums(None, first_month, last_month), limit)


@per_shape(maxsize=4)
def candidates_select(batch: int) -> sa.Select:
    """The next `batch` partners by all-time won value (`bound`) after :offset, each with its sums over the
    months [:first_month, :last_month] (NULL without rows there) and its name (NULL for a partner gone)."""
    from app.models import ChannelPartner

    table = PartnerMonthlyRollup
    candidates = (
        sa.select(table.cp_key, table.won_value.label("bound"))
        .where(table.month == ALL_TIME, table.cp_key != NO_KEY)
        .order_by(table.won_value.desc(), table.won_leads.desc(), table.cp_key)
        .limit(batch)
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .cte("candidates")
    )
    sums = (
        sa.select(table.cp_key, *sum_columns(table, RANKED_MEASURES))
        .where(table.cp_key.in_(sa.select(candidates.c.cp_key)))
        .where(table.month >= sa.bindparam("first_month"), table.month <= sa.bindparam("last_month"))
        .group_by(table.cp_key)
        .subquery("sums")
    )
    return (
        sa.select(
            candidates.c.cp_key,
            candidates.c.bound,
            ChannelPartner.company_name.label("cp_name"),
            *(sums.c[m] for m in RANKED_MEASURES),
        )
        .select_from(candidates)
        .outerjoin(sums, sums.c.cp_key == candidates.c.cp_key)
        .outerjoin(ChannelPartner, ChannelPartner.id == candidates.c.cp_key)
    )


def _partner_row(row) -> dict:
    sums = {m: getattr(row, m) for m in RANKED_MEASURES}
    return {"cp_id": row.cp_key, "cp_name": row.cp_name, **values(sums, RANKED_MEASURES)}


def _ranked(rows: list[dict], limit: int) -> list[dict]:
    return sorted(rows, key=lambda r: (-r["won_value"], -r["won_leads"], r["cp_name"] or ""))[:limit]


def _range_sums(cp_keys, first_month: date, last_month: date) -> list[dict]:
    """Per partner (of `cp_keys`, or all) sums over the months, with the partner's name; partners gone are left out."""
    from app.models import ChannelPartner

    table = PartnerMonthlyRollup
    sums = (
        sa.select(table.cp_key, *sum_columns(table, RANKED_MEASURES))
        .where(table.month >= first_month, table.month <= last_month)
        .group_by(table.cp_key)
        .having(sa.func.sum(table.rows) > 0)
    )
    if cp_keys is not None:
        sums = sums.where(table.cp_key.in_(cp_keys))
    sums = sums.subquery("sums")
    stmt = sa.select(sums, ChannelPartner.company_name.label("cp_name")).join(
        ChannelPartner, ChannelPartner.id == sums.c.cp_key
    )
    return [_partner_row(r) for r in db.session.execute(stmt)]
