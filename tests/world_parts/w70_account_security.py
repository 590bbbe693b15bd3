"""Account security records for the route walk: a second login session of cp's (another browser)."""

from app.extensions import db
from app.models import UserSession


def add(world):
    row = UserSession(
        user_id=world["users"]["cp"].id, ip="198.51.100.7", user_agent="Mozilla/5.0 (iPhone) Safari/604.1"
    )
    db.session.add(row)
    db.session.flush()
    world["ids"]["cp_session"] = row.id
