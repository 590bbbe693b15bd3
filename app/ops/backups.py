"""`flask backup` and `flask restore` (SPEC 9.7): the database and the uploaded files as one backup set.

A set (see app/ops/backup_store.py for its layout and encryption) holds the database dump (PostgreSQL:
`pg_dump -Fc` taken in the same snapshot as the manifest's row counts; SQLite: the online backup API), every
object of the configured file storage, and a manifest with the time, the Alembic revision, each part's size and
SHA-256 and the row count of every table. The database goes first and the files after, so every file a dumped
row names is already stored when it is copied.

A restore goes into an empty database only; it verifies every checksum (and decrypts) before it touches the
database, restores in one transaction, compares the row counts with the manifest and then puts the files back
into the configured storage.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.ops.backup_store import (
    MANIFEST,
    SET_PREFIX,
    BackupError,
    decrypt_file,
    encrypt_file,
    inside,
    key_id,
    load_key,
    open_target,
    sha256_of,
)

FORMAT = 1


# --- database engines -------------------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL with the psycopg 3 driver for any common spelling of a PostgreSQL URL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_env(url: str) -> dict:
    """pg_dump / pg_restore settings for `url` as PG* variables: the password never appears in a command line."""
    parsed = sa.engine.make_url(url)
    env = dict(os.environ)
    values = {
        "PGHOST": parsed.host,
        "PGPORT": parsed.port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
        "PGSSLMODE": parsed.query.get("sslmode"),
    }
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def sqlite_path(url: str) -> str:
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return path


def _run(command: list[str], env: dict) -> None:
    answer = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603 - fixed argv, no shell
    if answer.returncode:
        raise BackupError(f"{command[0]} failed: {answer.stderr.strip()[-2000:]}")


def _counts(connection) -> dict[str, int]:
    """Row counts of every table the models declare and the database holds."""
    present = set(sa.inspect(connection).get_table_names())
    tables = [t for t in db.metadata.sorted_tables if t.name in present]
    return {t.name: connection.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables}


def _revision(connection) -> str | None:
    if "alembic_version" not in sa.inspect(connection).get_table_names():
        return None
    return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def dump_database(url: str, folder: Path) -> tuple[str, dict, str | None]:
    """Write the dump into `folder`: (its file name, row counts, Alembic revision), all from one snapshot."""
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            return _dump_postgres(engine, url, folder)
        target = folder / "database.sqlite3"
        with sqlite3.connect(sqlite_path(url)) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        copied = sa.create_engine(f"sqlite:///{target}")
        with copied.connect() as connection:
            counts, revision = _counts(connection), _revision(connection)
        copied.dispose()
        return target.name, counts, revision
    finally:
        engine.dispose()


def _dump_postgres(engine, url: str, folder: Path) -> tuple[str, dict, str | None]:
    # The counts and pg_dump read one exported snapshot, so the manifest describes exactly the dump.
    with engine.connect() as connection:
        connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
        counts, revision = _counts(connection), _revision(connection)
        target = folder / "database.dump"
        _run(["pg_dump", "-Fc", "--no-owner", "--no-acl", f"--snapshot={snapshot}", "-f", str(target)], libpq_env(url))
        connection.rollback()
    return target.name, counts, revision


def database_is_empty(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return not sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()


def load_database(url: str, dump: Path) -> None:
    """Restore `dump` into the (empty) database at `url`, all or nothing."""
    engine = sa.create_engine(url)
    dialect = engine.dialect.name
    engine.dispose()
    if dialect == "postgresql":
        database = sa.engine.make_url(url).database
        command = ["pg_restore", "--no-owner", "--no-acl", "--single-transaction", "--exit-on-error", "-d", database]
        _run([*command, str(dump)], libpq_env(url))
        return
    with sqlite3.connect(dump) as source, sqlite3.connect(sqlite_path(url)) as target:
        source.backup(target)


def counts_of(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return _counts(connection)
    finally:
        engine.dispose()


# --- uploaded files ---------------------------------------------------------------------------------------


@contextmanager
def storage_objects():
    """(key, local path) of every object in the configured storage; S3 objects are downloaded one at a time."""
    from app.files.backends import current_backend

    backend = current_backend()
    if backend.name == "local":
        root = backend.root
        paths = (
            sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".part")) if root.is_dir() else []
        )
        yield ((p.relative_to(root).as_posix(), p) for p in paths)
        return
    scratch = Path(tempfile.mkdtemp(prefix="leadflow-objects-"))
    try:
        yield _s3_objects(backend, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _s3_objects(backend, scratch: Path):
    for page in backend.client.get_paginator("list_objects_v2").paginate(Bucket=backend.bucket):
        for item in page.get("Contents", []):
            path = scratch / "object"
            backend.client.download_file(backend.bucket, item["Key"], str(path))
            yield item["Key"], path


def put_file(key: str, path: Path) -> None:
    """Store a restored file under its key in the configured storage (streamed, never whole in memory)."""
    from app.files.backends import current_backend

    backend = current_backend()
    if backend.name == "s3":
        backend.client.upload_file(str(path), backend.bucket, key)
        return
    target = backend._path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target.with_name(target.name + ".part"))
    os.replace(target.with_name(target.name + ".part"), target)


# --- backup -----------------------------------------------------------------------------------------------


def _add_part(staged: Path, name: str, source: Path, secret: bytes | None, **extra) -> dict:
    """Put one part into the staged set (encrypted when there is a key) and describe it for the manifest."""
    target = staged / name
    target.parent.mkdir(parents=True, exist_ok=True)
    part = {"name": name, "size": source.stat().st_size, "sha256": sha256_of(source), **extra}
    if secret is None:
        if source != target:
            shutil.copyfile(source, target)
    else:
        sealed = target.with_name(target.name + ".sealed")
        encrypt_file(source, sealed, secret, name)
        os.replace(sealed, target)
    part["stored_sha256"] = sha256_of(target)
    return part


def create_backup(location: str, encrypt: bool = False, database_url: str | None = None) -> tuple[str, dict]:
    """Write a complete backup set to `location` (a directory or s3://bucket/prefix): (where, manifest).

    The dump reads `database_url`, else BACKUP_DATABASE_URL (e.g. a read-only backup role), else the app's database
    (after `flask secure-audit-log` the app's role still reads every table and sequence pg_dump needs).
    """
    config = current_app.config
    source = normalise_url(database_url or config.get("BACKUP_DATABASE_URL") or config["SQLALCHEMY_DATABASE_URI"])
    key = load_key(config.get("BACKUP_ENCRYPTION_KEY")) if encrypt else None
    target = open_target(location, config)
    now = datetime.now(UTC)
    name = SET_PREFIX + now.strftime("%Y%m%dT%H%M%SZ")
    staged = target.staging_dir()
    try:
        dump_name, counts, revision = dump_database(source, staged)
        parts = [_add_part(staged, dump_name, staged / dump_name, key)]
        with storage_objects() as objects:
            parts += [_add_part(staged, f"files/{k}", path, key, key=k) for k, path in objects]
        manifest = {
            "format": FORMAT,
            "name": name,
            "created_at": now.isoformat(timespec="seconds"),
            "alembic_revision": revision,
            "database": {"engine": "postgresql" if dump_name.endswith(".dump") else "sqlite", "part": dump_name},
            "storage_backend": config.get("STORAGE_BACKEND", "local"),
            "encryption": {"cipher": "AES-256-GCM/1MiB", "key_id": key_id(key)} if key else None,
            "row_counts": counts,
            "parts": parts,
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        return target.publish(staged, name), manifest
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


# --- restore ----------------------------------------------------------------------------------------------


@contextmanager
def opened_set(location: str):
    """The verified, decrypted set at `location` as (manifest, folder of plain parts); nothing touched yet.

    `location` is a set, or a directory / prefix holding sets (then the newest complete one is used).
    """
    config = current_app.config
    target = open_target(location, config)
    work = Path(tempfile.mkdtemp(prefix="leadflow-restore-"))
    try:
        name = _pick_set(target)
        folder = target.fetch(name, work / "fetched")
        manifest = json.loads((folder / MANIFEST).read_text())
        for name in [manifest["database"]["part"], *(part["name"] for part in manifest["parts"])]:
            inside(folder, name)  # every name the manifest gives stays inside the set, here and once decrypted
        _verify(folder, manifest)
        if manifest.get("encryption"):
            folder = _decrypt_all(folder, manifest, work / "plain")
        yield manifest, folder
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pick_set(target) -> str:
    """'' when the location is itself a set, else the newest complete set under it."""
    if target.is_set(""):
        return ""
    sets = target.complete_sets()
    if not sets:
        raise BackupError("no complete backup set there (a set is complete once its manifest.json is written)")
    return sets[-1]


def _verify(folder: Path, manifest: dict) -> None:
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    bad = []
    for part in manifest["parts"]:
        path = folder / part["name"]
        if not path.is_file():
            bad.append(f"{part['name']}: missing")
        elif sha256_of(path) != part["stored_sha256"]:
            bad.append(f"{part['name']}: checksum differs")
    if bad:
        raise BackupError("the backup set is damaged; nothing was restored:\n  " + "\n  ".join(bad[:50]))


def _decrypt_all(folder: Path, manifest: dict, plain: Path) -> Path:
    key = load_key(current_app.config.get("BACKUP_ENCRYPTION_KEY"))
    if key_id(key) != manifest["encryption"]["key_id"]:
        raise BackupError("BACKUP_ENCRYPTION_KEY is not the key this set was encrypted with")
    for part in manifest["parts"]:
        target = plain / part["name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        decrypt_file(folder / part["name"], target, key, part["name"])
        if sha256_of(target) != part["sha256"]:
            raise BackupError(f"{part['name']}: decrypted checksum differs")
    return plain


def restore_database(manifest: dict, folder: Path, url: str) -> list[str]:
    """Load the set's dump into the empty database at `url`; the row counts that differ from the manifest."""
    load_database(url, folder / manifest["database"]["part"])
    restored = counts_of(url)
    return [
        f"{table}: {restored.get(table)} rows restored, {count} in the backup"
        for table, count in manifest["row_counts"].items()
        if restored.get(table) != count
    ]


def restore_backup(location: str, database_url: str | None = None) -> dict:
    """Restore the set at `location` into an empty database and its files into the configured storage."""
    url = normalise_url(database_url or current_app.config["SQLALCHEMY_DATABASE_URI"])
    if not database_is_empty(url):
        where = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise BackupError(f"the target database is not empty; restore only into an empty database ({where})")
    with opened_set(location) as (manifest, folder):
        differences = restore_database(manifest, folder, url)
        if differences:
            raise BackupError("the restored rows differ from the backup:\n  " + "\n  ".join(differences))
        files = [p for p in manifest["parts"] if "key" in p]
        for part in files:
            put_file(part["key"], folder / part["name"])
    return {"name": manifest["name"], "tables": len(manifest["row_counts"]), "files": len(files)}


# --- commands ---------------------------------------------------------------------------------------------


def operator_errors() -> tuple:
    """What a backup, restore or drill may fail with that the operator should read as one line, not a traceback."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a runtime dependency
        return (BackupError, OSError)
    return (BackupError, OSError, BotoCoreError, ClientError)


def fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}")


@click.command("backup")
@click.option("--to", "location", required=True, help="A directory, or s3://bucket/prefix.")
@click.option("--encrypt", is_flag=True, help="Encrypt every part with BACKUP_ENCRYPTION_KEY (AES-256-GCM).")
@click.option(
    "--database-url", default=None, help="Dump this database (default BACKUP_DATABASE_URL, else DATABASE_URL)."
)
def backup_command(location: str, encrypt: bool, database_url: str | None) -> None:
    """Back up the database and the uploaded files as one set named by the UTC time."""
    try:
        where, manifest = create_backup(location, encrypt, database_url)
    except operator_errors() as exc:
        raise fail(exc) from None
    size = sum(p["size"] for p in manifest["parts"])
    files = sum(1 for p in manifest["parts"] if "key" in p)
    click.echo(f"Backup {where}: database + {files} files, {size:,} bytes{' (encrypted)' if encrypt else ''}.")


@click.command("restore")
@click.argument("location")
@click.option("--database-url", default=None, help="Restore into this (empty) database instead of DATABASE_URL.")
def restore_command(location: str, database_url: str | None) -> None:
    """Restore a backup set (or the newest under a directory / prefix) into an EMPTY database."""
    try:
        summary = restore_backup(location, database_url)
    except operator_errors() as exc:
        raise fail(exc) from None
    click.echo(f"Restored {summary['name']}: {summary['tables']} tables, {summary['files']} files.")
