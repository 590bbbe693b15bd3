"""Admin portal (/admin/): admits admins only, unless a view says otherwise."""

from flask import Blueprint

from app.access import ADMIN, portal_roles
from app.portals import load_sections

bp = Blueprint("admin", __name__)
portal_roles(bp, ADMIN)
load_sections(__name__, __path__)
