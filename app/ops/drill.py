"""`flask restore-drill` and `flask reconcile-money`: prove a backup restores and that its books balance.

The drill verifies and decrypts a set, restores its database into a scratch database created for the purpose
(PostgreSQL: `leadflow_drill_<UTC time>_<random>` on the configured server, which needs CREATEDB; SQLite: a
temporary file), then checks the restored copy: row counts against the manifest, the money reconciliation
(app.money.reconciliation), the rollups against a fresh fold of the rows (app.reporting.rollups.reconcile) and
that every ready file a row names is in the set with the size the row records. The scratch database is dropped
whatever happens; every difference is printed and the command exits 1 if there is any.
"""

import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.models import StoredFile
from app.money.reconciliation import differences as money_differences
from app.ops.backups import fail, normalise_url, opened_set, operator_errors, restore_database


def scratch_database(server_url: str):
    """A context manager yielding the URL of a new, empty scratch database, dropped on exit."""
    url = sa.engine.make_url(normalise_url(server_url))
    if url.get_backend_name() == "postgresql":
        name = f"leadflow_drill_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
        return _PostgresScratch(url, name)
    return _SqliteScratch()


class _PostgresScratch:
    def __init__(self, url, name: str):
        self.server, self.name = url, name

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
        engine.dispose()

    def __enter__(self) -> str:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class _SqliteScratch:
    def __enter__(self) -> str:
        self.folder = tempfile.mkdtemp(prefix="leadflow-drill-")
        return f"sqlite:///{Path(self.folder) / 'drill.sqlite3'}"

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def file_differences(session: Session, manifest: dict) -> list[str]:
    """Each ready file a row names that the set lacks, or holds with another size than the row records."""
    sizes = {p["key"]: p["size"] for p in manifest["parts"] if "key" in p}
    problems = []
    rows = session.execute(sa.select(StoredFile.storage_key, StoredFile.size_bytes).where(StoredFile.is_ready))
    for key, size in rows:
        if key not in sizes:
            problems.append(f"file {key}: named by the database, missing from the backup")
        elif sizes[key] != size:
            problems.append(f"file {key}: {sizes[key]} bytes in the backup, {size} recorded in the database")
    return problems


def check_restored(url: str, manifest: dict) -> list[str]:
    """Money, rollup and file differences of the restored database at `url`."""
    from app.reporting import rollups

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session:
            problems = [f"money: {line}" for line in money_differences(session)]
            problems += [f"rollups: {line}" for line in rollups.reconcile(session)]
            problems += file_differences(session, manifest)
            session.rollback()
            return problems
    finally:
        engine.dispose()


def run_drill(location: str) -> tuple[str, list[str]]:
    """Restore the set at `location` into a scratch database and check it: (set name, differences)."""
    with (
        opened_set(location) as (manifest, folder),
        scratch_database(current_app.config["SQLALCHEMY_DATABASE_URI"]) as url,
    ):
        problems = [f"rows: {line}" for line in restore_database(manifest, folder, url)]
        return manifest["name"], problems + check_restored(url, manifest)


@click.command("restore-drill")
@click.argument("location")
def restore_drill_command(location: str) -> None:
    """Restore a backup set (or the newest under a directory / prefix) into a scratch database, check it, drop it."""
    try:
        name, problems = run_drill(location)
    except operator_errors() as exc:
        raise fail(exc) from None
    for line in problems:
        click.echo(line, err=True)  # with the failure, to whoever reads errors (cron mail, journal)
    if problems:
        raise click.ClickException(f"restore drill of {name}: {len(problems)} difference(s)")
    click.echo(f"Restore drill of {name}: restored, row counts, money, rollups and files all reconcile.")


@click.command("reconcile-money")
def reconcile_money_command() -> None:
    """Check the money invariants on the configured database (read-only); exit 1 on any difference."""
    problems = money_differences()
    for line in problems:
        click.echo(line, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} money difference(s).")
    click.echo("The money reconciles: commission == fee + net, fees generated == settled + outstanding.")
