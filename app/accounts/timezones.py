"""A person's timezone (issue 20 item 9): the IANA zone their pages show times in (app.web.times).

A column on the user row, which every logged-in page has loaded already: showing times in it adds no query.
"""

from app.errors import Refused
from app.extensions import db
from app.models import User
from app.web.times import is_zone

CHOOSE = "Choose a timezone from the list, such as Europe/Paris or America/New_York."


class UnknownZone(Refused):
    status = 422


def set_timezone(user: User, name: str, actor: User) -> User:
    """Remember the IANA zone `name` for `user` (validated against the system's zoneinfo). Only the person may
    choose their own zone; a preference, not a business record, so no audit row. Flushes; the view commits."""
    if actor.id != user.id:
        raise Refused("You can only choose your own timezone.", field="timezone")
    name = (name or "").strip()
    if not is_zone(name):
        raise UnknownZone(CHOOSE, field="timezone")
    user.timezone = name
    db.session.flush()
    return user
