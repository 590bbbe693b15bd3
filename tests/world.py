"""One small world of records that the route walk and the IDOR suites act on.

`cp` owns everything CP-side here (`manager` and `viewer` are its colleagues); `other` is a second approved CP
who must never see it.
Each domain adds the records its routes need in tests/world_parts/<NN_domain>.py, a function
`add(world)` that puts ids into world["ids"]; they run in file-name order (catalog before leads
before commissions...).
"""

import importlib
import pkgutil

from app.extensions import db
from tests import factories, world_parts


def build_world() -> dict:
    users = {
        "super": factories.make_user("super_admin"),
        "admin": factories.make_user("admin"),
    }
    partner = factories.make_partner(company="Owner Co")
    other = factories.make_partner(company="Other Co")
    pending = factories.make_partner(status="pending", company="Pending Co")
    manager = factories.make_member(partner, "manager")
    viewer = factories.make_member(partner, "viewer")
    colleague = factories.make_member(partner, "viewer")  # the one the team routes act on
    users.update(
        {"cp": partner.user, "manager": manager, "viewer": viewer, "other": other.user, "pending": pending.user}
    )
    users["other_manager"] = factories.make_member(other, "manager")  # a member of another partner, not its owner
    factories.make_fee_config()
    world = {
        "users": users,
        "partners": {"cp": partner, "other": other, "pending": pending},
        "ids": {
            "partner": partner.id,
            "other_partner": other.id,
            "pending_partner": pending.id,
            "member": colleague.membership.id,
        },
    }
    for module in sorted(pkgutil.iter_modules(world_parts.__path__), key=lambda m: m.name):
        importlib.import_module(f"tests.world_parts.{module.name}").add(world)
        db.session.flush()
    db.session.commit()
    return world
