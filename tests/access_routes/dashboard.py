"""The partner dashboard's goal form (issue #20 item 4): owners and managers set it; a viewer reads the dashboard only."""

from tests.access_table import cp_only

ROUTES = {
    # an empty amount is refused beside the field (422); the goal is the partner's own, so "other" sets its own
    "POST cp.dashboard_goal": ("/cp/goal", cp_only(422)),
}
