"""Column helpers shared by every model."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

MONEY = sa.Numeric(14, 2, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


def enum(*values: str, name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, the same on SQLite and PostgreSQL."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def pk() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=new_uuid)


def fk(target: str, *, nullable: bool = False, ondelete: str | None = None, index: bool = True, **kw):
    return mapped_column(sa.Uuid, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index, **kw)


def money(nullable: bool = True, default: Decimal | None = None):
    return mapped_column(MONEY, nullable=nullable, default=default)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, nullable=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow, nullable=False)
