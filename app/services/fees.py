"""The one place platform fees are computed (SPEC section 2.3)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import PlatformFeeConfig

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
        amount = f"{self.value.normalize():f} %" if self.type == "percentage" else f"fixed ${to_cents(self.value):,}"
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


def active_global_rule() -> FeeRule | None:
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
