"""The API's pages outside /api/v1: the reference (Swagger UI over the OpenAPI document) is public."""

from tests.access_table import everyone

ROUTES = {
    "GET api_reference.docs": ("/api/docs", everyone(200)),
}
