"""Lead operations. "lead" is assigned to cp: the other partner gets 404; the super admin reads but does not
work leads (403 on changes); "unallocated_lead" is the admin's to allocate. The body is checked before the lead
is looked up, so an empty body is 422 for anyone admitted (which says nothing about the lead); with a valid
body the other partner gets 404 (tests/test_api_idor.py)."""

from tests.api_access_table import admin_op, any_user, api

API_ROUTES = {
    "GET api_leads.list_leads": ("/api/v1/leads", any_user("leads:read")),
    "POST api_leads.create_lead": ("/api/v1/leads", api("leads:write", cp=422, admin=422)),
    "GET api_leads.get_lead": ("/api/v1/leads/{lead}", any_user("leads:read", other=404)),
    "PUT api_leads.set_amounts": ("/api/v1/leads/{lead}/amounts", api("leads:write", cp=422, admin=422)),
    "POST api_leads.change_stage": ("/api/v1/leads/{lead}/stage", api("leads:write", cp=422, admin=422)),
    "POST api_leads.allocate": ("/api/v1/leads/{unallocated_lead}/allocate", admin_op("leads:write", 422)),
}
