"""Demo data for `flask seed-demo`. Each module seeds one domain and is safe to run twice."""

from app.demo import (
    accounts,
    assets,
    catalog,
    comms,
    fees,
    finance,
    goals,
    intake,
    integrations,
    kyc,
    leads,
    people,
    team,
    timezones,
    training,
)
from app.extensions import db

DEMO_PASSWORD = "demo-pass-2026"


def seed_all() -> None:
    for module in (
        people,
        accounts,
        team,
        catalog,
        leads,
        comms,
        finance,
        fees,
        kyc,
        intake,
        integrations,
        goals,
        assets,
        timezones,
        training,
    ):
        module.seed()
        db.session.commit()
