import sqlalchemy as sa

from app.extensions import db
from app.models import ChannelPartner
from app.portals.admin import bp
from app.web import render


@bp.get("/")
def dashboard():
    pending = db.session.scalars(
        sa.select(ChannelPartner).where(ChannelPartner.status == "pending").order_by(ChannelPartner.created_at)
    ).all()
    return render("admin/dashboard/page.html", pending_partners=pending)
