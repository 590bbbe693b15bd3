"""Cursor pagination for list endpoints: newest first on (created_at, id), so a page costs the same at row
1,000,000 as at row 1 and rows added meanwhile never shift a page. The cursor is opaque to clients."""

import base64
import json
import uuid
from datetime import datetime

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import abort

from app.extensions import db

MAX_LIMIT = 100


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=25, validate=ma.validate.Range(1, MAX_LIMIT))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


def page_schema(item_schema, name: str) -> type[ma.Schema]:
    """{"data": [items], "next_cursor": "..." or null}: the answer of every list endpoint."""
    return ma.Schema.from_dict(
        {
            "data": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(
                allow_none=True, required=True, metadata={"description": "Pass as `cursor` for the next page"}
            ),
        },
        name=name,
    )


def _encode(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError, json.JSONDecodeError):
        abort(422, messages={"query": {"cursor": ["This cursor is not one the API gave out."]}})


def keyset_page(stmt, model, args: dict) -> dict:
    """One page of `stmt` (a select of `model` rows, already filtered to what the caller may see)."""
    limit = args["limit"]
    if args.get("cursor"):
        created, row_id = _decode(args["cursor"])
        stmt = stmt.where(sa.tuple_(model.created_at, model.id) < sa.tuple_(sa.literal(created), sa.literal(row_id)))
    rows = list(db.session.scalars(stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "next_cursor": _encode(rows[-1].created_at, rows[-1].id) if more else None}
