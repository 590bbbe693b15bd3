"""Demo goal: cp1@demo.test aims at $2,500 of gross commission a month (set through the operation, audited).
A second run changes nothing."""

import sqlalchemy as sa

from app.extensions import db
from app.models import ChannelPartner, User
from app.partners import goals

GOALS = {"cp1@demo.test": ("2500.00", "month")}


def seed() -> None:
    for email, (amount, period) in GOALS.items():
        partner = db.session.scalar(
            sa.select(ChannelPartner).join(User, User.id == ChannelPartner.user_id).where(User.email == email)
        )
        if partner is not None and goals.goal_of(partner) is None:
            goals.set_goal(partner, amount, period, actor=partner.user)
