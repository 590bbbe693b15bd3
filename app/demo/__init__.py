"""Demo data for `flask seed-demo`. Each module seeds one domain and is safe to run twice."""

from app.demo import accounts, catalog, comms, fees, finance, intake, integrations, kyc, leads, people, team
from app.extensions import db

DEMO_PASSWORD = "demo-pass-2026"


def seed_all() -> None:
    for module in (people, accounts, team, catalog, leads, comms, finance, fees, kyc, intake, integrations):
        module.seed()
        db.session.commit()
