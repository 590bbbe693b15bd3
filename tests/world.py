"""One small world of records that the route walk and the IDOR suites act on.

`cp` owns everything CP-side here; `other` is a second approved CP who must never see it.
Each domain adds the records its routes need and names their ids in the returned dict.
"""

from app.extensions import db
from tests import factories


def build_world() -> dict:
    users = {
        "super": factories.make_user("super_admin"),
        "admin": factories.make_user("admin"),
    }
    partner = factories.make_partner(company="Owner Co")
    other = factories.make_partner(company="Other Co")
    pending = factories.make_partner(status="pending", company="Pending Co")
    users.update({"cp": partner.user, "other": other.user, "pending": pending.user})
    factories.make_fee_config()
    ids = {"partner": partner.id, "other_partner": other.id, "pending_partner": pending.id}
    db.session.commit()
    return {"users": users, "ids": ids}
