"""Command-line tasks: flask create-superadmin, seed-demo, worker, purge-abandoned-uploads."""

import click
from flask import current_app

from app.extensions import db
from app.scale import rebuild_rollups_command, seed_scale


def register_cli(app) -> None:
    app.cli.add_command(create_superadmin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(worker)
    app.cli.add_command(seed_scale)
    app.cli.add_command(rebuild_rollups_command)
    app.cli.add_command(purge_abandoned_uploads)


@click.command("create-superadmin")
@click.option("--email", prompt=True)
@click.option("--name", default="Platform owner", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_superadmin(email: str, name: str, password: str) -> None:
    """Create (or reset the password of) a super admin."""
    from app.services.accounts import find_by_email, normalise_email
    from app.services.passwords import hash_password

    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    user = find_by_email(email)
    if user is None:
        from app.models import User

        user = User(email=normalise_email(email), role="super_admin", status="active", name=name, password_hash="")
        db.session.add(user)
    elif user.role != "super_admin":
        raise click.ClickException(f"{email} exists with role {user.role}")
    user.password_hash = hash_password(password)
    db.session.commit()
    click.echo(f"Super admin {user.email} is ready.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Fill the database with demo data; safe to run again."""
    from app.demo import seed_all

    seed_all()
    click.echo("Demo data ready. Logins (password demo-pass-2026):")
    for email in (
        "super@demo.test",
        "admin@demo.test",
        "cp1@demo.test",
        "cp2@demo.test",
        "cp3@demo.test",
        "pending@demo.test",
    ):
        click.echo(f"  {email}")


@click.command("purge-abandoned-uploads")
@click.option(
    "--hours", default=24, show_default=True, type=click.IntRange(min=1), help="Age of the uploads to remove."
)
def purge_abandoned_uploads(hours: int) -> None:
    """Remove direct-to-S3 uploads that no form claimed within --hours (run it daily, e.g. from cron)."""
    from datetime import timedelta

    from app.services.storage import purge_abandoned_uploads as purge

    click.echo(f"Removed {purge(timedelta(hours=hours))} abandoned uploads.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker inside the app context (needs REDIS_URL)."""
    from rq import Worker

    from app.extensions import redis_handle

    if redis_handle.client is None:
        raise click.ClickException("REDIS_URL is not set; jobs run in-process and no worker is needed.")
    db.engine.dispose()  # forked job processes open their own connections
    queue = current_app.config["RQ_QUEUE"]
    Worker([queue], connection=redis_handle.client).work(burst=burst, with_scheduler=True)
