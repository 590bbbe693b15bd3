"""The one place platform fees are computed (SPEC section 2.3)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa

from app.audit import trail as audit
from app.extensions import db
from app.models import PlatformFeeConfig, User
from app.models.users import display_name
from app.web.money import format_money

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def to_cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FeeRule:
    type: str  # percentage | fixed
    value: Decimal
    source: str  # global | override
    config_id: object = None

    @property
    def label(self) -> str:
        amount = (
            f"{self.value.normalize():f} %"
            if self.type == "percentage"
            else f"fixed {format_money(to_cents(self.value))}"
        )
        return f"{'overridden' if self.source == 'override' else 'global'} {amount}"


@dataclass(frozen=True)
class FeeResult:
    commission: Decimal
    fee: Decimal
    net: Decimal
    capped: bool
    rule: FeeRule


def compute_fee(commission: Decimal, rule: FeeRule) -> FeeResult:
    """Fee and net for a commission under a rule: cents, half-up, fee capped at the commission."""
    commission = to_cents(commission)
    if commission < 0:
        raise ValueError("commission must not be negative")
    raw = commission * rule.value / HUNDRED if rule.type == "percentage" else rule.value
    fee = to_cents(max(raw, Decimal(0)))
    capped = fee > commission
    fee = min(fee, commission)
    return FeeResult(commission=commission, fee=fee, net=commission - fee, capped=capped, rule=rule)


def active_global_rule(loaded=()) -> FeeRule | None:
    """The active global rule. `loaded`: rule rows already read (the rule history): when the active one is
    among them (the newest rule is the active one), no query is needed."""
    config = next((c for c in loaded if c.is_active), None)
    if config is None:
        config = db.session.scalar(sa.select(PlatformFeeConfig).where(PlatformFeeConfig.is_active.is_(True)))
    if config is None:
        return None
    return FeeRule(type=config.fee_type, value=config.fee_value, source="global", config_id=config.id)


def rule_for(override_type: str | None, override_value: Decimal | None, global_rule: FeeRule | None = None):
    """SPEC 2.3: the lead's override if set, else the active global rule."""
    if override_type and override_value is not None:
        return FeeRule(type=override_type, value=Decimal(override_value), source="override")
    return global_rule if global_rule is not None else active_global_rule()


def rule_for_lead(lead, global_rule: FeeRule | None = None) -> FeeRule | None:
    return rule_for(lead.fee_override_type, lead.fee_override_value, global_rule)


def preview(commission: Decimal | None, rule: FeeRule | None) -> FeeResult | None:
    if commission is None or rule is None:
        return None
    return compute_fee(commission, rule)


def apply_to_lead(lead, global_rule: FeeRule | None = None) -> FeeResult | None:
    """Store the computed fee and net on the lead so they always equal what compute_fee returns."""
    result = preview(lead.commission_amount, rule_for_lead(lead, global_rule))
    lead.platform_fee_amount = result.fee if result else None
    lead.net_commission = result.net if result else None
    lead.fee_capped = bool(result and result.capped)
    return result


class RuleRow(NamedTuple):
    """A global rule as its history shows it, with its author's name (plain columns, not a rule and a user)."""

    id: uuid.UUID
    fee_type: str
    fee_value: Decimal
    is_active: bool
    effective_from: datetime
    notes: str | None
    author_own_name: str | None
    author_email: str | None

    @property
    def author_name(self) -> str | None:
        return display_name(self.author_own_name, self.author_email) if self.author_email else None


def rule_history(limit: int = 50) -> list[RuleRow]:
    """The global rules, newest first (old rows are kept as they were, never edited)."""
    return [RuleRow(*row) for row in db.session.execute(_history_statement(), {"limit": limit})]


@lru_cache(maxsize=1)
def _history_statement() -> sa.Select:
    config = PlatformFeeConfig
    return (
        sa.select(config.id, config.fee_type, config.fee_value, config.is_active, config.effective_from, config.notes)
        .add_columns(User.name, User.email)
        .outerjoin(User, User.id == config.created_by)
        .order_by(config.effective_from.desc())
        .limit(sa.bindparam("limit"))
    )


def set_global_rule(fee_type: str, value: Decimal, note: str | None, actor) -> PlatformFeeConfig:
    """Make a new active global rule: the current one is deactivated (kept as history), a new row inserted.

    Leads already won keep the rule snapshotted on their commission transaction (SPEC 2.4).
    """
    if fee_type not in ("percentage", "fixed"):
        raise ValueError("fee type must be percentage or fixed")
    value = Decimal(value)
    if not value.is_finite() or value < 0 or (fee_type == "percentage" and value > HUNDRED):
        raise ValueError("fee value out of range")
    current = db.session.scalar(
        sa.select(PlatformFeeConfig).where(PlatformFeeConfig.is_active.is_(True)).with_for_update()
    )
    before = audit.snapshot(current, "fee_type", "fee_value") if current else None
    if current is not None:
        current.is_active = False
        db.session.flush()  # the partial unique index allows one active row: retire the old one first
    config = PlatformFeeConfig(
        fee_type=fee_type, fee_value=value, is_active=True, created_by=getattr(actor, "id", None), notes=note or None
    )
    db.session.add(config)
    db.session.flush()
    audit.record(
        actor, "platform_fee_rule.changed", config, before=before, after=audit.snapshot(config, "fee_type", "fee_value")
    )
    return config
