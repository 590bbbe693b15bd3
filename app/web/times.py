"""Times in the viewer's timezone (issue 20 item 9). Stored in UTC (naive datetimes, app.models.base.utcnow); shown
in the zone the person chose on /account/timezone, UTC until they do, with the zone written beside every time of
day so a figure is never ambiguous (money and audit times above all).

Templates use one filter: `{{ value | localtime('%d %b %Y %H:%M') }}` (a date alone: `localtime('%d %b %Y')`; the
zone is added when the format shows a time). A `date` has no zone and is shown as it is. Outside a request (emails
rendered by jobs) times are UTC.
"""

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import g, has_request_context

DEFAULT_FORMAT = "%d %b %Y %H:%M"
MAX_NAME = 64


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted (for the picker and validation)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo of an IANA name; UTC for None or a name that is not a zone."""
    if not name or len(name) > MAX_NAME:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_zone(name: str) -> bool:
    return name in zone_names()


def viewer_zone_name() -> str:
    """The logged-in viewer's zone name, or UTC. Read from the user row Flask-Login has loaded already (no
    query, never a reload of an expired row), as app.accounts.appearance.current_theme reads the theme."""
    if not has_request_context():
        return "UTC"
    cached = g.get("viewer_zone")
    if cached is not None:
        return cached
    user = g.get("_login_user")
    attributes = getattr(user, "__dict__", {})
    if "timezone" not in attributes:  # anonymous, or the row expired by a commit before anything was shown
        return "UTC"
    name = attributes["timezone"]
    g.viewer_zone = name if name and is_zone(name) else "UTC"  # kept for the request: a later commit expires it
    return g.viewer_zone


def localtime(value, fmt: str = DEFAULT_FORMAT, zone_name: str | None = None) -> str:
    """`value` (a naive UTC datetime, an aware one, or a date) formatted in the viewer's zone (or `zone_name`);
    the zone's abbreviation follows when `fmt` shows a time of day. None → ""."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.strftime(fmt) if isinstance(value, date) else str(value)
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    local = aware.astimezone(zone(zone_name or viewer_zone_name()))
    text = local.strftime(fmt)
    return f"{text} {local.tzname()}" if "%H" in fmt or "%I" in fmt else text


def register_times(app) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.globals["viewer_zone_name"] = viewer_zone_name
