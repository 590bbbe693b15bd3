"""Demo timezones (issue 20 item 9): two demo logins see times in their own zone, the others in UTC, so `make run`
shows the same fee or audit time written differently. A zone someone already chose is left alone."""

import sqlalchemy as sa

from app.accounts import timezones
from app.extensions import db
from app.models import User

ZONES = {"admin@demo.test": "America/New_York", "cp1@demo.test": "Europe/Berlin"}


def seed() -> None:
    users = db.session.scalars(sa.select(User).where(User.email.in_(ZONES), User.timezone.is_(None)))
    for user in users:
        timezones.set_timezone(user, ZONES[user.email], actor=user)
