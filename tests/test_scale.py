"""`flask seed-scale` at a tiny size: the generated data keeps every money invariant; the benchmark floor works."""

from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.accounts.passwords import verify_password
from app.extensions import db
from app.models import (
    ChannelPartner,
    CommissionTransaction,
    Lead,
    Notification,
    PlatformFeeConfig,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
    User,
)
from app.money import commissions, fees
from app.tools.scale_rows import CP_EMAIL, PASSWORD, SMALL_CP_EMAIL, fee_cents
from tests.conftest import login, make_app, requires_postgres

CPS, LEADS = 20, 2000


def seed(app, *extra):
    result = app.test_cli_runner().invoke(args=["seed-scale", "--cps", str(CPS), "--leads", str(LEADS), *extra])
    db.session.remove()
    return result


@pytest.fixture
def seeded(app):
    result = seed(app, "--seed", "7")
    assert result.exit_code == 0, result.output
    return result


def all_of(model):
    return db.session.scalars(sa.select(model)).all()


@requires_postgres
def test_counts_and_logins(seeded):
    assert "leads" in seeded.output and "rows/s" in seeded.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == LEADS
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelPartner)) == CPS
    assert {p.status for p in all_of(ChannelPartner)} == {"approved"}
    assert all(p.has_bank_details for p in all_of(ChannelPartner))
    assert db.session.scalar(sa.select(sa.func.count()).where(PlatformFeeConfig.is_active)) == 1
    stages = Counter(lead.kanban_stage for lead in all_of(Lead))
    assert set(stages) == {"new", "contacted", "qualified", "proposal", "negotiation", "won", "lost"}
    unread = Counter(n.is_read for n in all_of(Notification))
    assert unread[False] > 0 and unread[True] > 0
    big = db.session.scalar(sa.select(User).where(User.email == CP_EMAIL))
    per_cp = Counter(lead.allocated_to for lead in all_of(Lead) if lead.allocated_to)
    assert per_cp.most_common(1)[0] == (big.partner.id, max(per_cp.values()))
    small = db.session.scalar(sa.select(User).where(User.email == SMALL_CP_EMAIL))
    assert per_cp[small.partner.id] < per_cp[big.partner.id]
    assert verify_password(big.password_hash, PASSWORD)


@requires_postgres
def test_every_won_lead_has_one_transaction_that_equals_compute_fee(seeded):
    txs = all_of(CommissionTransaction)
    assert {tx.status for tx in txs} == {"pending", "due", "paid", "void"}
    by_lead = Counter(tx.lead_id for tx in txs)
    assert max(by_lead.values()) == 1
    leads = {lead.id: lead for lead in all_of(Lead)}
    won = {lead_id for lead_id, lead in leads.items() if lead.kanban_stage == "won"}
    live = {tx.lead_id for tx in txs if tx.status != "void"}
    assert won == live
    for tx in txs:
        assert tx.gross_commission == tx.platform_fee + tx.net_commission
        expected = fees.compute_fee(tx.gross_commission, commissions.snapshot_rule(tx))
        assert (tx.platform_fee, tx.net_commission, tx.fee_capped) == (expected.fee, expected.net, expected.capped)
        lead = leads[tx.lead_id]
        if tx.status != "void":
            assert (lead.commission_amount, lead.platform_fee_amount) == (tx.gross_commission, tx.platform_fee)
            assert tx.cp_id == lead.allocated_to
    global_rule = fees.active_global_rule()
    for lead in leads.values():
        if lead.kanban_stage != "won" and lead.commission_amount is not None:
            expected = fees.compute_fee(lead.commission_amount, fees.rule_for_lead(lead, global_rule))
            assert (lead.platform_fee_amount, lead.net_commission) == (expected.fee, expected.net)


@requires_postgres
def test_settlements_never_share_a_fee_and_totals_reconcile(seeded):
    items = all_of(PlatformFeeSettlementItem)
    assert items and max(Counter(i.transaction_id for i in items).values()) == 1
    txs = {tx.id: tx for tx in all_of(CommissionTransaction)}
    for item in items:
        assert txs[item.transaction_id].status in ("due", "paid")
        assert item.amount == txs[item.transaction_id].platform_fee
        assert item.lead_id == txs[item.transaction_id].lead_id
    for settlement in all_of(PlatformFeeSettlement):
        assert settlement.amount == sum(i.amount for i in settlement.items)
        assert settlement.lead_count == len(settlement.items)
    settled_ids = {i.transaction_id for i in items}
    generated = sum((tx.platform_fee for tx in txs.values() if tx.status != "void"), Decimal("0"))
    settled = sum((i.amount for i in items), Decimal("0"))
    outstanding = sum(
        (tx.platform_fee for tx in txs.values() if tx.status != "void" and tx.id not in settled_ids), Decimal("0")
    )
    assert generated == settled + outstanding
    assert settled > outstanding  # settlements cover most of the fees


@requires_postgres
def test_same_seed_same_data_and_refuses_a_full_database(app, seeded):
    def fingerprint():
        rows = db.session.execute(sa.select(Lead.id, Lead.commission_amount, Lead.kanban_stage)).all()
        return sorted((str(r[0]), str(r[1]), r[2]) for r in rows)

    first = fingerprint()
    refused = seed(app, "--seed", "7")
    assert refused.exit_code != 0 and "--reset" in refused.output
    again = seed(app, "--seed", "7", "--reset")
    assert again.exit_code == 0, again.output
    assert fingerprint() == first


def test_integer_fee_arithmetic_equals_compute_fee():
    rules = [("percentage", 125_000), ("percentage", 75_000), ("fixed", 500_000), ("percentage", 333)]
    for rule_type, value_e4 in rules:
        rule = fees.FeeRule(type=rule_type, value=Decimal(value_e4) / 10000, source="global")
        for commission in (0, 1, 3, 49, 50, 51, 4999, 5000, 33_333, 123_456_789):
            fee, capped = fee_cents(commission, rule_type, value_e4)
            expected = fees.compute_fee(Decimal(commission) / 100, rule)
            assert (Decimal(fee) / 100, capped) == (expected.fee, expected.capped)


def test_seed_scale_refuses_sqlite():
    sqlite_app = make_app(SQLALCHEMY_DATABASE_URI="sqlite://")
    with sqlite_app.app_context():
        result = sqlite_app.test_cli_runner().invoke(args=["seed-scale", "--cps", "2", "--leads", "10"])
    assert result.exit_code != 0 and "PostgreSQL" in result.output


def test_bench_floor_reads_one_row_and_counts_queries(app):
    from tests import factories

    user = factories.make_user("admin")
    db.session.commit()
    bench_app = make_app(BENCH_FLOOR=True, BENCH_QUERY_COUNT=True)
    client = bench_app.test_client()
    assert client.get("/bench/floor").status_code == 302  # anonymous: to the login page
    login(client, user)
    page = client.get("/bench/floor")
    assert page.status_code == 200 and user.email in page.text
    assert int(page.headers["X-Query-Count"]) == 2  # the session's user, then the one read
    assert "X-Query-Count" not in app.test_client().get("/healthz").headers
    assert "bench.floor" not in app.view_functions  # not a route unless BENCH_FLOOR is on


@requires_postgres
def test_fee_totals_and_monthly_chart_reconcile_with_the_rows(seeded):
    """The dashboards' fast totals (fee_queries) equal sums taken row by row over the generated data."""
    from app.money import fee_filters, fee_queries

    txs = [tx for tx in all_of(CommissionTransaction) if tx.status != "void"]
    settled_ids = {i.transaction_id for i in all_of(PlatformFeeSettlementItem)}
    cutoff = fee_filters.overdue_cutoff()
    outstanding = [tx for tx in txs if tx.id not in settled_ids]
    totals = fee_queries.totals()
    assert totals.generated == sum((tx.platform_fee for tx in txs), Decimal("0"))
    assert totals.settled == sum((tx.platform_fee for tx in txs if tx.id in settled_ids), Decimal("0"))
    assert totals.outstanding == sum((tx.platform_fee for tx in outstanding), Decimal("0"))
    assert (totals.generated_count, totals.settled_count) == (len(txs), len(settled_ids))
    overdue = [tx for tx in outstanding if tx.won_at < cutoff]
    assert (totals.overdue, totals.overdue_count) == (
        sum((t.platform_fee for t in overdue), Decimal("0")),
        len(overdue),
    )
    months = fee_queries.monthly(24)
    by_month = Counter()
    for settlement in all_of(PlatformFeeSettlement):
        by_month[settlement.settled_at.strftime("%Y-%m")] += settlement.amount
    assert [m["settled"] for m in months] == [by_month.get(m["month"], Decimal("0")) for m in months]


@requires_postgres
def test_rollups_and_fee_settled_dates_reconcile_after_the_bulk_load(seeded):
    """COPY bypasses the session hook: seed-scale rebuilds the rollups and marks settled fees, and both agree with the rows."""
    from app.reporting import dashboards, reports, rollups

    assert rollups.reconcile() == []
    assert dashboards.admin_overview()["totals"] == reports.report_totals()
    settled_ids = {i.transaction_id for i in all_of(PlatformFeeSettlementItem)}
    assert {tx.id for tx in all_of(CommissionTransaction) if tx.fee_settled_at is not None} == settled_ids


def lead_filled(lead) -> set[str]:
    names = ("first_name", "last_name", "contact_email", "contact_phone", "contact_company", "job_title", "industry",
             "address", "lead_type", "budget", "timeline")  # fmt: skip
    return {name for name in names if getattr(lead, name)}


@requires_postgres
def test_leads_carry_consistent_intake_data_with_some_duplicates(seeded):
    """The new lead columns are what app.leads.intake would have stored: status, confirmation, score, keys."""
    from app.leads import duplicates, scoring
    from app.leads.fields import normalise_email, to_e164
    from app.models import Category
    from app.models.categories import slugify
    from app.tools.scale_contacts import default_weights

    leads = all_of(Lead)
    assert {lead.intake_status for lead in leads if lead.allocated_to} == {"distributed"}
    assert {lead.intake_status for lead in leads if not lead.allocated_to} == {"approved", "pending_review"}
    assert all(lead.confirmed_at == lead.created_at for lead in leads)
    assert {lead.channel for lead in leads} == {"portal", "referral", "admin", "public_form", "import"}
    assert {lead.channel for lead in leads if lead.originated_by} == {"portal", "referral"}
    weights = default_weights()
    assert weights == {"required": 30, "additional": 40, "qualification": 30}
    for lead in leads:
        assert lead.contact_name == f"{lead.first_name} {lead.last_name}"
        assert lead.email_normalized == normalise_email(lead.contact_email)
        assert lead.phone_e164 == (to_e164(lead.contact_phone) if lead.contact_phone else None)
        assert (lead.quality_score, lead.score_breakdown) == scoring.score(lead_filled(lead), None, weights)
        assert lead.custom_fields == {} and lead.utm == {}
    scores = Counter(lead.quality_score for lead in leads)
    assert len(scores) > 5 and max(scores) <= 100
    phones = Counter(lead.phone_e164 for lead in leads if lead.phone_e164)
    emails = Counter(lead.email_normalized for lead in leads)
    assert 0 < sum(n > 1 for n in phones.values()) < LEADS // 10
    assert 0 < sum(n > 1 for n in emails.values()) < LEADS // 10
    assert any(lead.contact_email != lead.email_normalized for lead in leads)  # typed with capitals or a +tag
    newest = max(leads, key=lambda lead: lead.created_at)
    assert duplicates.find_duplicate(newest.email_normalized, newest.phone_e164) is not None
    assert duplicates.find_duplicate("nobody@nowhere.test", "+12025550100") is None
    assert all(c.slug == slugify(c.name) and c.accepts_public_requests for c in all_of(Category))


def test_generated_contacts_are_valid_and_scored_like_intake(app):
    """Without a database: each generated row's phone is valid for phonenumbers, its keys and score are intake's."""
    import json
    import random

    from app.leads import scoring
    from app.leads.fields import clean, normalise_email, to_e164
    from app.tools.scale_contacts import COLUMNS, Contacts, check_phones, default_weights
    from app.tools.scale_rows import FIRST, LAST

    check_phones(random.Random(3), 1_000_000)
    contacts = Contacts(random.Random(3), FIRST, LAST)
    rows = [dict(zip(COLUMNS, contacts.row(n, n % 3 > 0, n % 3 == 1, "2026-01-01 00:00:00"), strict=True))
            for n in range(1, 3001)]  # fmt: skip
    for row in rows:
        assert row["email_normalized"] == normalise_email(row["contact_email"])
        assert row["phone_e164"] == (to_e164(row["contact_phone"]) if row["contact_phone"] else None)
        cleaned = clean({**row, "contact_company": "Client Ltd"}, None).columns  # what every channel accepts
        assert (cleaned["email_normalized"], cleaned.get("phone_e164")) == (row["email_normalized"], row["phone_e164"])
        filled = {name for name, value in row.items() if value} | {"contact_company"}
        points, breakdown = scoring.score(filled, None, default_weights())
        assert (int(row["quality_score"]), json.loads(row["score_breakdown"])) == (points, breakdown)
        assert row["intake_status"] in (("distributed",) if row["channel"] in ("portal", "referral") else INTAKE)
    assert len(contacts.scores) < 2**7 + 1  # scored once per distinct set of filled fields
    assert len({row["phone_e164"] for row in rows}) < len([row for row in rows if row["phone_e164"]])


INTAKE = ("distributed", "approved", "pending_review")
