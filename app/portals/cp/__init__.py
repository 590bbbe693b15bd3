"""Channel partner portal (/cp/): admits channel partners only."""

from flask import Blueprint

from app.access import CP, portal_roles
from app.portals import load_sections

bp = Blueprint("cp", __name__)
portal_roles(bp, CP)
load_sections(__name__, __path__)
