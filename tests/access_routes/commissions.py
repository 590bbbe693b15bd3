"""Permission rows for commissions (admin + CP), CP fee payments, receipts and the Stripe webhook."""

from tests.access_table import admin_only, cp_only, everyone, owner_only, staff

ROUTES = {
    # --- admin ---------------------------------------------------------------------------------
    "GET admin.commissions": ("/admin/commissions", staff(200)),
    "GET admin.commission_detail": ("/admin/commissions/{tx}", staff(200)),
    "POST admin.commission_client_payment": ("/admin/commissions/{pending_tx}/client-payment", admin_only(422)),
    "POST admin.commission_paid_directly": ("/admin/commissions/{pending_tx}/paid-directly", admin_only(422)),
    "POST admin.commission_reapply_rule": ("/admin/commissions/{tx}/reapply-rule", admin_only(303)),
    "POST admin.commission_settle": ("/admin/commissions/{tx}/settle", admin_only(422)),
    "POST admin.payment_review": ("/admin/commissions/payments/{payment}/review", admin_only(422)),
    "POST admin.payment_refund": ("/admin/commissions/payments/{payment}/refund", admin_only(409)),
    "GET admin.commission_receipt": ("/admin/commissions/{paid_tx}/receipt", staff(200)),
    "GET admin.payment_receipt": ("/admin/commissions/payments/{completed_payment}/receipt", staff(200)),
    # --- channel partner -----------------------------------------------------------------------
    "GET cp.commissions": ("/cp/commissions", cp_only(200)),
    "GET cp.commission_detail": ("/cp/commissions/{tx}", cp_only(200, other=404)),
    "POST cp.commission_request_settlement": ("/cp/commissions/{tx}/request-settlement", owner_only(303, other=404)),
    "POST cp.commission_pay_card": ("/cp/commissions/{direct_tx}/pay/card", owner_only(409, other=404)),
    "POST cp.commission_pay_bank": ("/cp/commissions/{direct_tx}/pay/bank-transfer", owner_only(409, other=404)),
    "GET cp.commission_receipt": ("/cp/commissions/{paid_tx}/receipt", cp_only(200, other=404)),
    "GET cp.payment_receipt": ("/cp/payments/{completed_payment}/receipt", cp_only(200, other=404)),
    # --- Stripe (public; without a valid signature every caller gets 400) -----------------------
    "POST webhooks.stripe": ("/webhooks/stripe", everyone(400)),
}
