"""Categories: every user reads the catalogue (partners the published part), so the other partner too."""

from tests.api_access_table import any_user

API_ROUTES = {
    "GET api_catalog.list_categories": ("/api/v1/categories", any_user("catalog:read")),
    "GET api_catalog.get_category": ("/api/v1/categories/{category}", any_user("catalog:read")),
}
