"""Bulk lead import (/admin/imports): upload, map, preview, run and follow (app/portals/import_views)."""

from app.portals import import_views
from app.portals.admin import bp

import_views.register(bp)
