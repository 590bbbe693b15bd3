"""Webhook pages (/cp/integrations/webhooks): every member of the partner reads the endpoints and their delivery
log; owners and managers add, change, delete, see and rotate the secret, send a test, redeliver (a viewer's POST,
and the two confirmation pages, are 403). Another partner gets 404 for cp's {webhook}. Empty POSTs are validation
answers (422) where there is a form to fill in, deleting included (its confirmation box)."""

from tests.access_table import cp_only, expect

_ENDPOINT = "/cp/integrations/webhooks/{webhook}"

ROUTES = {
    "GET cp.webhooks": ("/cp/integrations/webhooks", cp_only()),
    "POST cp.webhook_new": ("/cp/integrations/webhooks/new", cp_only(422)),
    "GET cp.webhook_detail": (_ENDPOINT, cp_only(200, other=404)),
    "POST cp.webhook_edit": (_ENDPOINT, cp_only(422, other=404)),
    "GET cp.webhook_delete": (f"{_ENDPOINT}/delete", expect(cp=200, other=404, viewer=403)),
    "POST cp.webhook_delete": (f"{_ENDPOINT}/delete", cp_only(422, other=404)),
    "POST cp.webhook_secret": (f"{_ENDPOINT}/secret", cp_only(200, other=404)),
    "GET cp.webhook_rotate": (f"{_ENDPOINT}/rotate", expect(cp=200, other=404, viewer=403)),
    "POST cp.webhook_rotate": (f"{_ENDPOINT}/rotate", cp_only(200, other=404)),
    "POST cp.webhook_test": (f"{_ENDPOINT}/test", cp_only(302, other=404)),
    "GET cp.webhook_deliveries": (f"{_ENDPOINT}/deliveries", cp_only(200, other=404)),
    "POST cp.webhook_redeliver": (f"{_ENDPOINT}/deliveries/{{webhook_delivery}}/redeliver", cp_only(302, other=404)),
}
