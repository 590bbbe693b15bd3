"""Writing the append-only audit log."""

from decimal import Decimal

from flask import has_request_context, request

from app.extensions import db
from app.models import AuditEvent
from app.ops import metrics


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def snapshot(obj, *fields: str) -> dict:
    return {f: _plain(getattr(obj, f)) for f in fields}


def record(actor, action: str, entity, before: dict | None = None, after: dict | None = None) -> AuditEvent:
    """Add an audit event for `entity` (a model instance or a (type, id) pair) in the current transaction."""
    if isinstance(entity, tuple):
        entity_type, entity_id = entity
    else:
        entity_type, entity_id = entity.__tablename__, entity.id
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    metrics.money_action(db.session, action)  # counted when the transaction commits
    return event
