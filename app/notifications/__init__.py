"""/notifications and /ws/notifications: the list, the bell's dropdown and badge, email preferences, the live socket."""

from flask import Blueprint

from app.portals import load_sections

bp = Blueprint("notifications", __name__)


@bp.record_once
def _socket_options(state) -> None:
    # Pings keep idle sockets open through proxies and notice a vanished browser.
    state.app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": 25})


@bp.app_template_filter("announcement_html")
def _announcement_html(text):
    from app.comms.announcements import render_message

    return render_message(text)


@bp.app_template_filter("announcement_excerpt")
def _announcement_excerpt(text, length=140):
    from app.comms.announcements import plain_excerpt

    return plain_excerpt(text, length)


load_sections(__name__, __path__)  # live, views: each declares its routes on bp
