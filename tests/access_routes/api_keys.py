"""API key pages: a partner's integrations (every member reads; owners and managers create and revoke), the staff
page of every key, and Twilio's inbound-SMS webhook (public, signed: unsigned calls are refused)."""

from tests.access_table import admin_only, cp_only, everyone, expect

ROUTES = {
    "GET cp.integrations": ("/cp/integrations", cp_only()),
    "POST cp.integrations_key_create": ("/cp/integrations/keys", cp_only(422)),
    # the confirmation page and the revocation: the partner's owners and managers; another partner gets 404
    "GET cp.integrations_key_revoke": ("/cp/integrations/keys/{api_key}/revoke", expect(cp=200, other=404, viewer=403)),
    "POST cp.integrations_key_revoke": ("/cp/integrations/keys/{api_key}/revoke", cp_only(302, other=404)),
    "GET admin.api_keys": ("/admin/api-keys", admin_only()),
    "POST admin.api_keys_issue": ("/admin/api-keys", admin_only(422)),
    "GET admin.api_keys_revoke": ("/admin/api-keys/{api_key}/revoke", admin_only()),
    "POST admin.api_keys_revoke": ("/admin/api-keys/{api_key}/revoke", admin_only(302)),
    "POST webhooks.twilio_sms": ("/webhooks/twilio/sms", everyone(403)),
}
