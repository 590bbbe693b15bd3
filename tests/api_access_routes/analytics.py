"""Analytics: the super admin's alone."""

from tests.api_access_table import super_op

API_ROUTES = {
    "GET api_analytics.income": ("/api/v1/analytics/income", super_op("analytics:read")),
    "GET api_analytics.figures": ("/api/v1/analytics", super_op("analytics:read")),
}
