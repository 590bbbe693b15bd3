"""The one fee function (SPEC 2.3): the worked examples and a property test over any commission and rule."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.money import fees

CENT = Decimal("0.01")


def rule(kind, value, source="global"):
    return fees.FeeRule(type=kind, value=Decimal(value), source=source)


def test_ten_percent_of_a_thousand():
    result = fees.compute_fee(Decimal("1000"), rule("percentage", "10"))
    assert (result.fee, result.net, result.capped) == (Decimal("100.00"), Decimal("900.00"), False)
    assert result.rule.label == "global 10 %"


def test_fixed_fifty_on_a_thousand():
    result = fees.compute_fee(Decimal("1000"), rule("fixed", "50", "override"))
    assert (result.fee, result.net, result.capped) == (Decimal("50.00"), Decimal("950.00"), False)
    assert result.rule.label == "overridden fixed $50.00"


def test_fixed_fifty_on_thirty_is_capped():
    result = fees.compute_fee(Decimal("30"), rule("fixed", "50"))
    assert (result.fee, result.net, result.capped) == (Decimal("30.00"), Decimal("0.00"), True)


def test_twelve_and_a_half_percent_rounds_half_up():
    result = fees.compute_fee(Decimal("333.33"), rule("percentage", "12.5"))
    assert (result.fee, result.net) == (Decimal("41.67"), Decimal("291.66"))


commissions_st = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2, allow_nan=False)
rules_st = st.one_of(
    st.builds(rule, st.just("percentage"), st.decimals(min_value=0, max_value=100, places=4, allow_nan=False).map(str)),
    st.builds(
        rule, st.just("fixed"), st.decimals(min_value=0, max_value=Decimal("1e12"), places=2, allow_nan=False).map(str)
    ),
)


@given(commission=commissions_st, fee_rule=rules_st)
def test_fee_and_net_always_reconcile(commission, fee_rule):
    result = fees.compute_fee(commission, fee_rule)
    assert result.fee + result.net == result.commission == commission
    assert Decimal(0) <= result.fee <= commission
    assert result.net >= 0
    for amount in (result.fee, result.net, result.commission):
        assert amount == amount.quantize(CENT)
        assert amount.as_tuple().exponent == -2
