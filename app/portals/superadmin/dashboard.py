from app.portals.superadmin import bp
from app.web import render


@bp.get("/")
def dashboard():
    return render("superadmin/dashboard/page.html")
