"""Routes a shared feature declares once and adds to each portal's blueprint that shows it."""

from collections.abc import Callable


def add_route(
    bp, rule: str, endpoint: str, view: Callable, methods=("GET",), roles: tuple | None = None, member_roles=None
) -> None:
    """Add `view` to `bp` as `endpoint`. A fresh function per portal carries the roles and partner member roles
    (see app/access.py), so a portal can admit more roles to one of its copies without touching the others."""

    def handler(**kwargs):
        return view(**kwargs)

    handler.__name__ = endpoint
    handler.__doc__ = view.__doc__
    if roles is not None:
        handler.allowed_roles = tuple(roles)
    if member_roles is not None:
        handler.member_roles = tuple(member_roles)
    bp.add_url_rule(rule, endpoint, handler, methods=list(methods))
