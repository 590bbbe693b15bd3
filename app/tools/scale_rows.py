"""The rows behind `flask seed-scale`: one seeded random source builds every table's rows (app.tools.scale loads them).

Money is integer cents here; the fee arithmetic is the integer form of app.money.fees.compute_fee and is
checked against compute_fee on a sample of every rule before anything is written.
"""

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import click

from app.comms.notifications import EVENTS
from app.crypto import encrypt
from app.models.base import utcnow
from app.models.categories import slugify
from app.models.partners import CODE_ALPHABET
from app.money.fees import FeeRule, compute_fee
from app.tools.scale_contacts import Contacts
from app.web.money import format_money

PASSWORD = "bench-pass-2026"  # noqa: S105  (the documented benchmark login, never production)
SUPER_EMAIL, ADMIN_EMAIL = "bench-super@scale.test", "bench-admin@scale.test"
CP_EMAIL, SMALL_CP_EMAIL = "bench-cp@scale.test", "bench-cp-small@scale.test"
CATEGORIES = (
    "Solar panels", "Home insurance", "Business loans", "Cloud hosting", "Office furniture", "Fleet leasing",
    "Payroll software", "Security systems", "Health plans", "Energy audits", "Telecom bundles", "Logistics",
)  # fmt: skip
FIRST = ("Aisha", "Mateo", "Priya", "Jon", "Lena", "Omar", "Sofia", "Kenji", "Amara", "Lucas", "Mei", "Ivan")
LAST = ("Karim", "Garcia", "Shah", "Berg", "Novak", "Haddad", "Rossi", "Tanaka", "Okafor", "Silva", "Chen", "Petrov")
COMPANY = ("Northwind", "Blue Harbor", "Summit", "Evergreen", "Redwood", "Atlas", "Beacon", "Cobalt", "Keystone")
SUFFIX = ("Solutions", "Partners", "Group", "Ventures", "Traders", "Resellers", "Consulting")
STAGES = ("new", "contacted", "qualified", "proposal", "negotiation", "won", "lost")
YOUNG_WEIGHTS = (35, 60, 75, 85, 90, 96, 100)  # cumulative, leads under 30 days old
OLD_WEIGHTS = (4, 10, 18, 26, 32, 72, 100)  # cumulative, older leads: mostly closed
SETTLEMENT_BATCH = 400


def cents(value: int | None) -> str | None:
    return None if value is None else f"{value // 100}.{value % 100:02d}"


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


def fee_cents(commission: int, rule_type: str, value_e4: int) -> tuple[int, bool]:
    """compute_fee in integer cents: the rule value is in ten-thousandths; half-up rounding; fee capped."""
    percentage = rule_type == "percentage"
    fee = max((2 * commission * value_e4 + 1_000_000) // 2_000_000 if percentage else (2 * value_e4 + 100) // 200, 0)
    return min(fee, commission), fee > commission


def partner_code(i: int) -> str:
    """The i-th partner's code: i scattered over the 31^6 codes by a multiplier coprime with 31, so unique."""
    n, digits = (i * 387_420_489 + 12_345) % 31**6, []
    for _ in range(6):
        n, digit = divmod(n, 31)
        digits.append(CODE_ALPHABET[digit])
    return "CP-" + "".join(digits)


@dataclass(frozen=True)
class Rule:
    type: str
    value_e4: int  # the rule value × 10,000, as stored in NUMERIC(14,4)
    source: str
    config_id: str | None

    @property
    def value(self) -> str:
        return f"{self.value_e4 // 10000}.{self.value_e4 % 10000:04d}"

    def fee_rule(self) -> FeeRule:
        return FeeRule(type=self.type, value=Decimal(self.value), source=self.source)


def check_fee_math(rules, rng: random.Random, samples: int = 2000) -> None:
    """Refuse to generate anything unless the integer fee arithmetic equals compute_fee."""
    edge = [0, 1, 2, 49, 50, 51, 99, 100, 333_33, 5000, 100_000]
    for rule in rules:
        for commission in edge + [rng.randrange(0, 10_000_000) for _ in range(samples)]:
            fee, capped = fee_cents(commission, rule.type, rule.value_e4)
            expected = compute_fee(Decimal(commission) / 100, rule.fee_rule())
            if (Decimal(cents(fee)), capped) != (expected.fee, expected.capped):
                raise click.ClickException(f"fee arithmetic differs from compute_fee for {commission} under {rule}")


@dataclass
class Won:
    """What the transaction loader needs to know about a won (or once-won) lead."""

    lead_id: str
    cp_id: str
    value: int
    commission: int
    fee: int
    capped: bool
    rule: Rule
    won_at: datetime
    voided_at: datetime | None = None
    title: str = ""


@dataclass
class Plan:
    cps: int
    leads: int
    months: int
    seed: int
    now: datetime = field(default_factory=lambda: utcnow().replace(microsecond=0))
    timings: list = field(default_factory=list)


class Generator:
    """Builds every table's rows from one seeded random source; the same seed gives the same data."""

    def __init__(self, plan: Plan, password_hash: str, slip_file_id: str):
        self.plan, self.rng = plan, random.Random(plan.seed)
        self.now, self.start = plan.now, plan.now - timedelta(days=30 * plan.months)
        self.switch = self.now - timedelta(days=15 * plan.months)  # the global rule changed half-way
        self.password_hash, self.slip_file_id = password_hash, slip_file_id
        self.super_id, self.admin_ids = self.uid(), [self.uid() for _ in range(3)]
        self.category_ids = [self.uid() for _ in CATEGORIES]
        self.old_rule = Rule("percentage", 125_000, "global", self.uid())
        self.active_rule = Rule("percentage", 100_000, "global", self.uid())
        self.overrides = (Rule("fixed", 500_000, "override", None), Rule("percentage", 75_000, "override", None))
        self.partners: list[tuple[str, str, datetime]] = []  # (cp id, user id, created)
        self.counts = self.lead_counts()
        self.won: list[Won] = []
        self.recent_leads: dict[int, list] = {}  # cp index → a few (created, lead id, title) for notifications
        self.settled_items: list[tuple[str, Won, datetime]] = []  # (item id, lead, client paid at)
        self.items: list[tuple] = []  # settlement item rows
        self.last_settlements: list[tuple] = []  # (id, settled at, total cents, lead count)
        self.contacts = Contacts(self.rng, FIRST, LAST)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def between(self, low: datetime, high: datetime, skew: float = 1.0) -> datetime:
        span = max((high - low).total_seconds(), 1.0)
        return low + timedelta(seconds=int(self.rng.random() ** skew * span))

    def lead_counts(self) -> list[int]:
        """Leads per CP (2 % wait unallocated): most CPs small, a long tail, the largest a few thousand."""
        cps, allocated = self.plan.cps, self.plan.leads - self.plan.leads // 50
        largest = min(max(allocated // 300, 2 * allocated // cps, 1), allocated)
        if cps == 1:
            return [allocated]
        weights = [min(self.rng.paretovariate(1.5), 40.0) for _ in range(cps - 1)]
        rest, total = allocated - largest, sum(weights)
        counts = [int(rest * w / total) for w in weights]
        for i in range(rest - sum(counts)):
            counts[i % len(counts)] += 1
        counts = [largest, *counts]
        top = max(range(len(counts)), key=counts.__getitem__)
        counts[0], counts[top] = counts[top], counts[0]  # the first CP (the benchmark's login) is the largest
        return counts

    @property
    def small_cp_index(self) -> int:
        ranked = sorted(range(1, len(self.counts)), key=lambda i: self.counts[i]) or [0]
        return ranked[len(ranked) // 2]

    # --- people -------------------------------------------------------------------------------
    def user_row(self, user_id, email, name, role, created) -> tuple:
        created = ts(created)
        return (user_id, email, self.password_hash, name, role, "active", "f", "1", "[]", created, created)

    def users(self):
        early = self.start - timedelta(days=90)
        yield self.user_row(self.super_id, SUPER_EMAIL, "Bench Owner", "super_admin", early)
        for i, admin_id in enumerate(self.admin_ids):
            email = ADMIN_EMAIL if i == 0 else f"admin{i}@scale.test"
            yield self.user_row(admin_id, email, f"Bench Admin {i}", "admin", early)
        small = self.small_cp_index
        for i in range(self.plan.cps):
            cp_id, user_id = self.uid(), self.uid()
            created = self.between(early, self.now - timedelta(days=20), skew=1.5)
            self.partners.append((cp_id, user_id, created))
            email = CP_EMAIL if i == 0 else SMALL_CP_EMAIL if i == small else f"cp{i:06d}@scale.test"
            name = f"{FIRST[i % 12]} {LAST[(i // 12) % 12]}"
            yield self.user_row(user_id, email, name, "channel_partner", created)

    def partner_rows(self):
        for i, (cp_id, user_id, created) in enumerate(self.partners):
            company = f"{COMPANY[i % 9]} {SUFFIX[(i // 9) % 7]} {i}"
            account = encrypt(f"{self.rng.randrange(10**11, 10**12)}")  # COPY bypasses the EncryptedText type
            approved = ts(created + timedelta(days=1))
            yield (cp_id, user_id, company, f"+1 555 {i % 10000:04d}", f"https://cp{i}.example.com",
                   f"{i} Market Street", "approved", self.admin_ids[0], approved, "Bank of Scale", account,
                   company, "Main branch", "BSCLUS33", ts(created), approved, partner_code(i))  # fmt: skip

    def member_rows(self):
        """Each partner's login is its owner (app/partners/members.py)."""
        for cp_id, user_id, created in self.partners:
            yield str(uuid.uuid5(uuid.NAMESPACE_OID, f"owner:{cp_id}")), cp_id, user_id, "owner", "active", ts(created)

    def category_rows(self):
        created = ts(self.start - timedelta(days=90))
        for i, (cat_id, name) in enumerate(zip(self.category_ids, CATEGORIES, strict=True)):
            yield (cat_id, name, f"{name} for businesses and homes.", "t", str(i), self.admin_ids[0], created, created,
                   slugify(name))  # fmt: skip

    def fee_config_rows(self):
        yield (self.old_rule.config_id, "percentage", self.old_rule.value, "f", self.admin_ids[0],
               ts(self.start - timedelta(days=90)), "The launch rule.")  # fmt: skip
        yield (self.active_rule.config_id, "percentage", self.active_rule.value, "t", self.admin_ids[0],
               ts(self.switch), "The current rule.")  # fmt: skip

    # --- leads --------------------------------------------------------------------------------
    def money_for(self, stage: str) -> tuple[int | None, int | None]:
        if stage in ("new", "contacted") and self.rng.random() < 0.5:
            return None, None
        value = int(min(max(math.exp(self.rng.gauss(math.log(20_000), 1.0)), 500), 5_000_000) * 100)
        return value, value * self.rng.randrange(3, 16) // 100

    def leads(self):
        rng, now, cps = self.rng, self.now, self.partners
        pending = self.plan.leads - sum(self.counts)
        owners = [(i, n) for i, n in enumerate(self.counts)] + [(None, pending)]
        serial = 0
        for cp_index, n in owners:
            cp_id, cp_user, cp_created = cps[cp_index] if cp_index is not None else (None, None, self.start)
            recent = self.recent_leads.setdefault(cp_index, []) if cp_index is not None else []
            low = max(self.start, cp_created)
            for _ in range(n):
                serial += 1
                yield self.lead_row(serial, cp_index, cp_id, cp_user, low, recent, now, rng)

    def lead_row(self, serial, cp_index, cp_id, cp_user, low, recent, now, rng) -> tuple:
        lead_id, category = self.uid(), rng.randrange(len(CATEGORIES))
        created = self.between(low, now, skew=0.75)
        age_days = (now - created).days
        if cp_id is None:
            stage = "new"
        else:
            weights = YOUNG_WEIGHTS if age_days < 30 else OLD_WEIGHTS
            roll = rng.random() * 100
            stage = STAGES[next(i for i, w in enumerate(weights) if roll < w)]
        changed = created  # a lead moves on after a few weeks (exponential, mean 21 days), never in the future
        if stage != "new":
            changed = created + timedelta(seconds=int(rng.expovariate(1 / (21 * 86400))))
            changed = changed if changed < now else self.between(created, now)
        value, commission = self.money_for(stage)
        override = self.overrides[rng.randrange(2)] if rng.random() < 0.03 else None
        title = f"{CATEGORIES[category]} for {COMPANY[serial % 9]} client {serial}"
        rule = override or (self.old_rule if stage == "won" and changed < self.switch else self.active_rule)
        fee = capped = None
        if commission is not None:
            fee, capped = fee_cents(commission, rule.type, rule.value_e4)
        if stage == "won":
            self.won.append(Won(lead_id, cp_id, value, commission, fee, capped, rule, changed, title=title))
        elif stage == "lost" and commission is not None and rng.random() < 0.08:
            won_at = self.between(created, changed)
            was = override or (self.old_rule if won_at < self.switch else self.active_rule)
            old_fee, old_capped = fee_cents(commission, was.type, was.value_e4)
            self.won.append(Won(lead_id, cp_id, value, commission, old_fee, old_capped, was, won_at, changed, title))
        if len(recent) < 12:
            recent.append((created, lead_id, title))
        originated = cp_id if cp_id is None or rng.random() < 0.4 else None
        creator = cp_user if originated else self.admin_ids[serial % len(self.admin_ids)]
        contact = self.contacts.row(serial, cp_id is not None, originated is not None, ts(created))
        return (lead_id, title, "Generated by seed-scale.", self.category_ids[category], originated, cp_id, creator,
                "allocated" if cp_id else "pending", stage, f"Client {serial} Ltd", cents(value), cents(commission),
                override.type if override else None, override.value if override else None, cents(fee),
                cents(None if fee is None else commission - fee), "t" if capped else "f",
                "Chose another supplier." if stage == "lost" else None, ts(changed), "1", ts(created),
                ts(changed), *contact)  # fmt: skip

    # --- money --------------------------------------------------------------------------------
    def status_for(self, won: Won) -> str:
        if won.voided_at is not None:
            return "void"
        age, roll = (self.now - won.won_at).days, self.rng.random()
        if age < 14:
            return "pending" if roll < 0.7 else "due"
        if age < 60:
            return "pending" if roll < 0.2 else "due" if roll < 0.6 else "paid"
        return "pending" if roll < 0.05 else "due" if roll < 0.15 else "paid"

    def transactions(self):
        now, overdue_line = self.now, self.now - timedelta(days=30)
        for n, won in enumerate(self.won):
            if n % 500 == 0:
                self.verify(won)
            status = self.status_for(won)
            paid_at = settled = requested = None
            if status in ("due", "paid"):
                paid_at = min(won.won_at + timedelta(days=self.rng.randrange(1, 21)), now)
                if paid_at < overdue_line and self.rng.random() < 0.95:
                    self.settled_items.append((self.uid(), won, paid_at))
            if status == "paid":
                settled = min(paid_at + timedelta(days=self.rng.randrange(1, 15)), now)
            elif status == "due" and self.rng.random() < 0.4:
                requested = min(paid_at + timedelta(days=self.rng.randrange(1, 10)), now)
            net = won.commission - won.fee
            yield (self.uid(), won.lead_id, won.cp_id, cents(won.commission), cents(won.fee), cents(net),
                   cents(won.value), status, won.rule.type, won.rule.value, won.rule.source, won.rule.config_id,
                   "t" if won.capped else "f", ts(won.won_at), paid_at.date().isoformat() if paid_at else None,
                   f"CLIENT-{n}" if paid_at else None, "f", ts(requested), self.admin_ids[0] if settled else None,
                   ts(settled), ts(won.voided_at), ts(won.won_at), ts(settled or won.voided_at or paid_at or
                   won.won_at))  # fmt: skip

    def verify(self, won: Won) -> None:
        expected = compute_fee(Decimal(won.commission) / 100, won.rule.fee_rule())
        if (Decimal(cents(won.fee)), won.capped) != (expected.fee, expected.capped):
            raise click.ClickException(f"generated fee differs from compute_fee on lead {won.lead_id}")

    def settlement_batches(self):
        """Settled fees grouped by the month the client paid, in batches, settled early the next month."""
        by_month: dict[tuple, list] = {}
        for item in self.settled_items:
            by_month.setdefault((item[2].year, item[2].month), []).append(item)
        for (year, month), items in sorted(by_month.items()):
            first_next = datetime(year + month // 12, month % 12 + 1, 1)
            for i in range(0, len(items), SETTLEMENT_BATCH):
                settled_at = min(first_next + timedelta(days=3, hours=self.rng.randrange(0, 48)), self.now)
                yield self.uid(), settled_at, items[i : i + SETTLEMENT_BATCH]

    def settlements(self, tx_ids: dict):
        for settlement_id, settled_at, items in self.settlement_batches():
            total = sum(won.fee for _, won, _ in items)
            for item_id, won, _ in items:
                self.items.append((item_id, settlement_id, tx_ids[won.lead_id], won.lead_id, cents(won.fee)))
            self.last_settlements.append((settlement_id, settled_at, total, len(items)))
            yield (settlement_id, cents(total), str(len(items)), self.admin_ids[0], self.slip_file_id,
                   f"Platform fees {settled_at:%B %Y}", f"scale-{settlement_id}", ts(settled_at))  # fmt: skip

    # --- notifications ------------------------------------------------------------------------
    def notification(self, user_id, key, created, unread, link, ref=(None, None), **fields) -> tuple:
        event = EVENTS[key]
        read_at = None if unread else ts(created + timedelta(hours=2))
        return (self.uid(), user_id, event.type, key, event.title.format(**fields)[:200],
                event.message.format(**fields), link, "f" if unread else "t", read_at, ref[1], ref[0],
                ts(created))  # fmt: skip

    def notifications(self):
        for cp_index, recent in self.recent_leads.items():
            user_id = self.partners[cp_index][1]
            for n, (created, lead_id, title) in enumerate(sorted(recent)):
                unread = n >= len(recent) - 2
                yield self.notification(user_id, "lead_assigned", created, unread, "/cp/leads/assigned",
                                        ("lead", lead_id), title=title)  # fmt: skip
        recent_won = sorted((w for w in self.won if w.voided_at is None), key=lambda w: w.won_at)
        recent_won = [w for w in recent_won if w.won_at > self.now - timedelta(days=180)]
        for admin_id in self.admin_ids:
            for n, won in enumerate(recent_won):
                yield self.notification(admin_id, "lead_won", won.won_at, n >= len(recent_won) - 25,
                                        "/admin/leads", ("lead", won.lead_id), name="", title=won.title)  # fmt: skip
        for n, (settlement_id, settled_at, total, count) in enumerate(self.last_settlements):
            yield self.notification(self.super_id, "platform_fee_settled", settled_at,
                                    n >= len(self.last_settlements) - 3, "/super/settlements",
                                    ("settlement", settlement_id), amount=format_money(Decimal(cents(total))), count=count,
                                    leads_word="lead" if count == 1 else "leads")  # fmt: skip
