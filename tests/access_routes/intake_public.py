"""Permission rows of the public request form, its confirmation link, referral links and the CP's links page.

The public routes answer every role alike. An empty POST to the form is a validation answer (422). The world's
confirmation link was used already, so opening it changes nothing ("already confirmed", 200).
"""

from tests.access_table import cp_only, everyone

ROUTES = {
    "GET public.request_index": ("/request", everyone(200)),
    "GET public.request_form": ("/request/{public_category_slug}", everyone(200)),
    "POST public.request_form": ("/request/{public_category_slug}", everyone(422)),
    "GET public.confirm": ("/request/confirm/{used_lead_confirmation}", everyone(200)),
    "GET public.referral": ("/r/{partner_code}", everyone(303)),
    "GET cp.links": ("/cp/links", cp_only()),
}
