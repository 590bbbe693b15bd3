"""A person's colour theme (SPEC 9.6, issue 20 item 3): "auto" follows the system setting, or light or dark.

The choice is a column on the user row, which every logged-in page has loaded already: reading it adds no query.
"""

from flask import g

from app.errors import Refused
from app.extensions import db
from app.models import User

THEMES = ("auto", "light", "dark")
LABELS = {"auto": "System", "light": "Light", "dark": "Dark"}


class UnknownTheme(Refused):
    status = 422


def set_theme(user: User, theme: str, actor: User) -> User:
    """Remember `theme` for `user`. Only the person may choose their own theme; a preference, not a business
    record, so no audit row. Flushes; the view commits."""
    if actor.id != user.id:
        raise Refused("You can only choose your own theme.", field="theme")
    if theme not in THEMES:
        raise UnknownTheme("Choose System, Light or Dark.", field="theme")
    user.theme = theme
    db.session.flush()
    return user


def current_theme() -> tuple[str, bool]:
    """The theme for the layout's <html> tag and whether it is a logged-in person's own choice ("auto" and False
    on anonymous pages, which follow the system setting).

    Read only from a user row Flask-Login has loaded already, and only from attributes it holds: it never loads
    the user (the database may be what failed, on an error page) nor refreshes a row expired by a commit."""
    theme = getattr(g.get("_login_user"), "__dict__", {}).get("theme")
    return (theme, True) if theme in THEMES else ("auto", False)
