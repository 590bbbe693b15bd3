"""Super admin portal (/super/): admits the super admin only. Everything financial here is read-only."""

from flask import Blueprint

from app.access import SUPER, portal_roles
from app.portals import load_sections

bp = Blueprint("superadmin", __name__)
portal_roles(bp, SUPER)
load_sections(__name__, __path__)
