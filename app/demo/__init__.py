"""Demo data for `flask seed-demo`. Each module seeds one domain and is safe to run twice."""

from app.demo import catalog, comms, fees, finance, leads, people
from app.extensions import db

DEMO_PASSWORD = "demo-pass-2026"


def seed_all() -> None:
    for module in (people, catalog, leads, comms, finance, fees):
        module.seed()
        db.session.commit()
