"""Platform fees (/admin/platform-fees): the global fee rule and its history, the fee of every lead,
and settling outstanding fees to the super admin in batches with a bank slip."""

from decimal import Decimal, InvalidOperation

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from app.extensions import db
from app.idempotency import IdempotentForm
from app.money import fee_filters, fee_queries, fee_selection, fee_settlement_history, fees
from app.portals import fee_settlement_views
from app.portals.admin import bp, fee_batches
from app.validators import query_page
from app.web import is_htmx_partial, memoized_macro, render

PAGE_SIZE = 25
MAX_FIXED_FEE = Decimal("999999999999.99")
FEE_TYPE_CHOICES = [SelectChoice("percentage", "Percentage"), SelectChoice("fixed", "Fixed amount")]


class FeeRuleForm(IdempotentForm):
    fee_type = SelectField("Fee type", choices=FEE_TYPE_CHOICES, validators=[InputRequired()])
    fee_value = StringField("Fee value", validators=[InputRequired(), Length(max=24)])
    note = TextAreaField("Note", validators=[InputRequired(), Length(max=2000)])

    def validate_fee_value(self, field):
        try:
            value = Decimal(field.data.strip().replace(",", ""))
        except (InvalidOperation, AttributeError) as exc:
            raise ValidationError("Enter a number, such as 10 or 12.5.") from exc
        if not value.is_finite() or value < 0:
            raise ValidationError("Enter a number of 0 or more.")
        if value.as_tuple().exponent < -4:
            raise ValidationError("Use at most four decimal places.")
        if self.fee_type.data == "percentage" and value > 100:
            raise ValidationError("A percentage must be between 0 and 100.")
        if value > MAX_FIXED_FEE:
            raise ValidationError("That amount is too large.")
        field.parsed = value


def _fee_filter(args):
    return fee_filters.parse_filter(args)


def _page(rule_form=None, fee_filter=None, status: int = 200):
    fee_filter = fee_filter if fee_filter is not None else _fee_filter(request.args)
    totals = fee_queries.totals()
    pagination = fee_queries.fee_page(fee_filter, query_page(request.args), PAGE_SIZE, totals=totals)
    return render(
        "admin/platform_fees/page.html",
        partial="admin/platform_fees/partials/_fees.html",
        status=status,
        **_rule_context(rule_form),
        totals=totals,
        fee_filter=fee_filter,
        filter_args=fee_filters.filter_args(fee_filter),
        matching_outstanding=fee_queries.count_matching_outstanding(fee_filter, totals),
        partners=fee_queries.partners_with_fees(),
        pagination=pagination,
        is_overdue=fee_queries.overdue_test(),
        settleable={tx.id for tx in pagination.items if tx.ready},
        fee_row=fee_row,
        chosen=_ticked(),
        recent=fee_settlement_history.recent_settlements(10),
    )


def _ticked():
    """The running summary of fees ticked before going back from the confirmation step (none on a first visit)."""
    if not (request.args.get("transaction_ids") or request.args.get("select_all")):
        return fee_selection.Selection(0, fee_selection.ZERO)
    batch = fee_batches.Batch(request.args)
    return batch.selection() if batch.valid else None


def fee_row(tx, ready: bool, checked: bool, overdue: bool) -> str:
    """One row of the fee list, memoized on everything it shows (as the kanban's cards are)."""
    return _fee_row(tx, ready, checked, overdue, "" if ready else fee_queries.waiting_reason(tx))


_fee_row = memoized_macro("admin/platform_fees/partials/_fee_row.html", "fee_row", size=5_000)  # ~1 KB a row


def _rule_context(rule_form=None) -> dict:
    history = fees.rule_history()
    return {
        "rule": fees.active_global_rule(loaded=history),
        "rule_form": rule_form or FeeRuleForm(formdata=None),
        "history": history,
    }


@bp.get("/platform-fees")
def platform_fees():
    return _page()


@bp.post("/platform-fees/rule")
def platform_fees_rule():
    form = FeeRuleForm()
    if form.validate():
        try:
            config = fees.set_global_rule(
                form.fee_type.data, form.fee_value.parsed, form.note.data.strip(), current_user
            )
            db.session.commit()
        except IntegrityError:  # another admin changed the rule at the same moment
            db.session.rollback()
            form.fee_value.errors.append("Another admin changed the rule just now. Check the history and try again.")
        else:
            message = f"The global rule is now {fees.active_global_rule().label.removeprefix('global ')}."
            if not is_htmx_partial():
                flash(message, "success")
                return redirect(url_for("admin.platform_fees"))
            return render_partial(
                "admin/platform_fees/partials/_rule.html", **_rule_context(), rule_message=message, changed_id=config.id
            )
    if is_htmx_partial():
        return render_partial("admin/platform_fees/partials/_rule.html", status=422, **_rule_context(form))
    return _page(rule_form=form, status=422)


def render_partial(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


SETTLEMENTS = fee_settlement_views.SettlementPages(
    "/platform-fees/settlements",
    endpoints=("platform_fees_settlements", "platform_fees_settlement", "platform_fees_receipt"),
    templates=("admin/platform_fees/settlements.html", "admin/platform_fees/settlement.html"),
)
fee_settlement_views.register(bp, SETTLEMENTS)
