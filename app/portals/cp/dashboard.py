from flask_login import current_user

from app.portals.cp import bp
from app.web import render


@bp.get("/")
def dashboard():
    return render("cp/dashboard/page.html", partner=current_user.partner)
