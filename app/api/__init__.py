"""/api/v1: the public JSON API over the same operations, queries and permission rules as the pages (SPEC 9.5).

Each resource is a module with a flask-smorest Blueprint (`blp`); its views declare their roles (app.access) and
the API-key scope they need (principal.scope), validate input and output with marshmallow schemas, call one
operation or query and commit. The OpenAPI 3 document is generated from them at /api/v1/openapi.json.
"""

import http
import importlib

from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from app.api import problems
from app.errors import Refused

RESOURCES = (
    "app.api.auth",
    "app.api.leads",
    "app.api.evidence",
    "app.api.uploads",
    "app.api.catalog",
    "app.api.money",
    "app.api.fees",
    "app.api.notifications",
    "app.api.partners",
    "app.api.analytics",
)

DESCRIPTION = """The LeadFlow PM API. Authenticate with an API key (`X-API-Key`, created under Integrations) or a
user access token (`Authorization: Bearer`, from `POST /api/v1/auth/token`). Errors are RFC 9457 problem JSON.
Lists are newest first; pass `next_cursor` back as `cursor` for the next page. `POST /api/v1/leads` honours an
`Idempotency-Key` header."""


class LeadflowApi(Api):
    """flask-smorest's Api, answering errors as problem JSON (and only for the API: pages keep their pages)."""

    ERROR_SCHEMA = problems.ProblemSchema

    def handle_http_exception(self, error):
        if not problems.is_api_request():
            return error
        return problems.from_http_exception(error)

    def _register_responses(self):
        """flask-smorest's error responses, documented as what they are: application/problem+json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error (problem JSON)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, problems.CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


api = LeadflowApi(
    spec_kwargs={
        "info": {"description": DESCRIPTION},
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            }
        },
    }
)


def register_api(app) -> None:
    from app.access import public_blueprint
    from app.extensions import csrf, limiter

    app.config.setdefault("API_TITLE", "LeadFlow PM API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api.init_app(app)
    public_blueprint("api-docs")
    for name in RESOURCES:
        blp = importlib.import_module(name).blp
        csrf.exempt(blp)
        if blp.name not in _PREPARED:  # blueprints are module-level and outlive an app: set them up once
            limiter.shared_limit(_api_rate_limit, scope="api")(blp)
            # A blueprint's handlers come before the app's (whose 403/404 are pages): errors here are problem JSON.
            blp.register_error_handler(HTTPException, problems.from_http_exception)
            blp.register_error_handler(Refused, problems.from_refusal)
            _PREPARED.add(blp.name)
        api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")
    from app.api.docs import bp as docs_bp

    app.register_blueprint(docs_bp)


_PREPARED: set[str] = set()


def _api_rate_limit() -> str:
    """One budget per API key, or per user across their tokens, over every operation (API_RATE_LIMIT)."""
    from flask import current_app

    return current_app.config["API_RATE_LIMIT"]
