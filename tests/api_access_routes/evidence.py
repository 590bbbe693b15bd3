"""Lead evidence and the upload handshake. "lead" is assigned to cp and "evidence_lead" holds cp's evidence file;
the other partner gets 404 for them, the super admin reads but never adds. An empty body is 422 for anyone
admitted (it is checked before the lead is looked up); with a valid body the other partner gets 404
(tests/test_api_idor.py). The local upload endpoint is public: its ticket's token authorises it, so without one
it is 422 for everybody."""

from tests.api_access_table import any_user, api, public_op

API_ROUTES = {
    "GET api_evidence.list_evidence": ("/api/v1/leads/{lead}/evidence", any_user("leads:read", other=404)),
    "POST api_evidence.reserve_evidence": (
        "/api/v1/leads/{lead}/evidence/uploads",
        api("leads:write", cp=422, admin=422),
    ),
    "POST api_evidence.add_evidence": ("/api/v1/leads/{lead}/evidence", api("leads:write", cp=422, admin=422)),
    "GET api_evidence.evidence_file": (
        "/api/v1/leads/{evidence_lead}/evidence/{evidence}/file",
        any_user("leads:read", other=404),
    ),
    "POST api_uploads.receive": ("/api/v1/uploads/{evidence_file}", public_op(422)),
}
