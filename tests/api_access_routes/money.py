"""Money. "tx" is cp's due commission, "pending_tx" its pending one, "fee_outstanding_tx" a commission with an
outstanding fee, "fee_settlement" a platform-fee settlement (staff only: a partner never sees one). Partners read
their own (the other partner: 404), staff everything, admins act (an empty body: 422). Asking for settlement is
the owner's (managers and viewers: 403) and asking again changes nothing (200)."""

from tests.api_access_table import admin_op, any_user, api, staff_op

API_ROUTES = {
    "GET api_money.list_commissions": ("/api/v1/commissions", any_user("money:read")),
    "GET api_money.get_commission": ("/api/v1/commissions/{tx}", any_user("money:read", other=404)),
    "POST api_money.record_client_payment": (
        "/api/v1/commissions/{pending_tx}/client-payment",
        admin_op("money:write", 422),
    ),
    "POST api_money.settle_commission": ("/api/v1/commissions/{tx}/settlement", admin_op("money:write", 422)),
    "POST api_money.request_settlement": (
        "/api/v1/commissions/{tx}/settlement-request",
        api("money:write", cp=200, other=404, manager=403, viewer=403),
    ),
    "GET api_fees.list_fees": ("/api/v1/platform-fees", any_user("money:read")),
    "GET api_fees.fee_totals": ("/api/v1/platform-fees/totals", staff_op("money:read")),
    "GET api_fees.get_fee": ("/api/v1/platform-fees/{fee_outstanding_tx}", any_user("money:read", other=404)),
    "POST api_fees.settle_fees": ("/api/v1/platform-fees/settlements", admin_op("money:write", 422)),
    "GET api_fees.get_fee_settlement": (
        "/api/v1/platform-fees/settlements/{fee_settlement}",
        staff_op("money:read"),
    ),
    "POST api_money.reserve_money_file": ("/api/v1/money/uploads", admin_op("money:write", 422)),
}
