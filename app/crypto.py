"""Encryption at rest for the few columns that hold secrets (account numbers, IBANs, tax ids, TOTP secrets).

ENCRYPTION_KEYS is a comma-separated list of Fernet keys, newest first: values are written with the first
and read with any, so a new key is added in front and `flask rotate-key` re-encrypts every row with it.
Development and tests derive one key from SECRET_KEY; production refuses to start without the setting.
"""

import base64
import hashlib
from functools import lru_cache

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def configured_keys(config) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in (config.get("ENCRYPTION_KEYS") or "").split(",") if k.strip())
    if keys:
        return keys
    derived = hashlib.sha256(b"leadflow-encryption:" + config["SECRET_KEY"].encode()).digest()
    return (base64.urlsafe_b64encode(derived).decode(),)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(configured_keys(current_app.config))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("An encrypted value cannot be read with the configured ENCRYPTION_KEYS.") from exc


class EncryptedText(sa.types.TypeDecorator):
    """A text column stored encrypted: Python sees the plain value, the database only ciphertext."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def invalid_keys(config) -> list[int]:
    """The 1-based positions of the ENCRYPTION_KEYS entries that are not Fernet keys (the keys are never shown)."""
    bad = []
    for position, key in enumerate(configured_keys(config), start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            bad.append(position)
    return bad


def encrypted_columns() -> list[tuple[sa.Table, sa.Column]]:
    """Every EncryptedText column of every mapped model (the TOTP secrets as well as the bank numbers)."""
    from app.extensions import db

    return [
        (table, column)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]


def rotate_keys(batch_size: int = 500) -> dict[str, dict[str, int]]:
    """Re-encrypt every stored value with the first key of ENCRYPTION_KEYS; returns counts per table.column.

    Rows are read in primary-key order, `batch_size` at a time, each batch in one transaction. A value already
    readable with the first key is left alone (so a second run rewrites nothing); each rewrite only applies if
    the row still holds the value read (compare-and-set), so a concurrent edit, written with the first key
    anyway, is never overwritten with an older value. A value no configured key can read stops the command.
    """
    from app.extensions import db

    keys = configured_keys(current_app.config)
    primary, every = Fernet(keys[0].encode()), fernet()
    counts: dict[str, dict[str, int]] = {}
    for table, column in encrypted_columns():
        (key_column,) = table.primary_key.columns
        raw = sa.type_coerce(column, sa.Text)  # the ciphertext as stored, not decrypted on the way out
        tally = counts[f"{table.name}.{column.name}"] = {"rotated": 0, "current": 0, "changed": 0}
        last = None
        while True:
            with db.engine.begin() as conn:
                stmt = sa.select(key_column, raw).where(column.is_not(None)).order_by(key_column).limit(batch_size)
                rows = conn.execute(stmt if last is None else stmt.where(key_column > last)).all()
                for row_id, token in rows:
                    try:
                        primary.decrypt(token.encode())
                    except InvalidToken:
                        pass
                    else:
                        tally["current"] += 1
                        continue
                    try:
                        rotated = every.rotate(token.encode()).decode()
                    except InvalidToken as exc:
                        raise RuntimeError(
                            f"{table.name}.{column.name} of row {row_id} cannot be read with any key of "
                            "ENCRYPTION_KEYS: add the key it was written with (after the new one) and run again."
                        ) from exc
                    done = conn.execute(
                        sa.update(table)
                        .where(key_column == row_id, raw == sa.literal(token, sa.Text))
                        .values({column.name: sa.literal(rotated, sa.Text)})
                    )
                    tally["rotated" if done.rowcount else "changed"] += 1
            if not rows:
                break
            last = rows[-1][0]
    return counts
