"""Bulk lead import for partners that originate leads (/cp/imports): owners and managers; their own imports."""

from app.access import WORKERS
from app.portals import import_views
from app.portals.cp import bp

import_views.register(bp, member_roles=WORKERS)
