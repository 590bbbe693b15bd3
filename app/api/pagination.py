"""Cursor pagination for list endpoints: newest first on (created_at, id), so a page costs the same at row
1,000,000 as at row 1 and rows added meanwhile never shift a page. The cursor is opaque to clients."""

import base64
import json
import uuid
from datetime import UTC, datetime

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import abort
from sqlalchemy.orm import aliased

from app.extensions import db
from app.statements import per_shape

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


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor of the page that follows this row (bench/api.py builds a deep one with it)."""
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The cursor's (created_at, id); anything else (edited, truncated, forged) is a 422, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(created, str) or not isinstance(row_id, str):
            raise TypeError("not a cursor")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is not None:  # the columns hold naive UTC
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment, uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError):  # base64, UTF-8 and JSON errors are ValueErrors
        abort(422, messages={"query": {"cursor": ["This cursor is not one the API gave out."]}})


def keyset_page(stmt, model, args: dict, params: dict | None = None) -> dict:
    """One page of `stmt`: a select of `model` rows already filtered to what the caller may see, or a list of
    such selects that find disjoint rows (a filter that is an OR, split into halves that each have an index).
    Each part is read in (created_at, id) order from the cursor on, up to the end of the page (so an index on
    the part's filter and created_at serves it, at row 1,000,000 as at row 1), and the page is cut from their
    merge. `params`: the values of the bind parameters, when `stmt` is a statement cached per shape
    (app.statements): its page statement is then built once per shape too."""
    parts = tuple(stmt) if isinstance(stmt, list | tuple) else (stmt,)
    after = bool(args.get("cursor"))
    build = _cached_page_statement if params is not None else page_statement
    values = {**(params or {}), "page_size": args["limit"] + 1}
    if after:
        values["after_created"], values["after_id"] = _decode(args["cursor"])
    rows = list(db.session.scalars(build(parts, model, after), values))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return {"data": rows, "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more else None}


def page_statement(parts: tuple, model, after: bool):
    """The statement of a page over `parts` with bind parameters page_size (rows to read) and, `after` a cursor,
    after_created and after_id (bench/api.py shows its plan)."""
    order = (model.created_at.desc(), model.id.desc())
    size = sa.bindparam("page_size", type_=sa.Integer)
    if after:
        cursor = (
            sa.bindparam("after_created", type_=model.created_at.type),
            sa.bindparam("after_id", type_=model.id.type),
        )
        parts = tuple(part.where(sa.tuple_(model.created_at, model.id) < sa.tuple_(*cursor)) for part in parts)
    parts = tuple(part.order_by(*order).limit(size) for part in parts)
    if len(parts) == 1:
        return parts[0]
    halves = (part.subquery() for part in parts)  # SQLite takes no parenthesised SELECT ... LIMIT in a UNION
    merged = aliased(model, sa.union_all(*(sa.select(*half.c) for half in halves)).subquery())
    return sa.select(merged).order_by(merged.created_at.desc(), merged.id.desc()).limit(size)


_cached_page_statement = per_shape(maxsize=256)(page_statement)
