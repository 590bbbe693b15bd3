"""Command-line tasks: flask create-superadmin, create-user, seed-demo, worker, requeue-stranded, purge-abandoned-uploads."""

import time

import click
from flask import current_app

from app.db_roles import secure_audit_log
from app.extensions import db
from app.leads.imports_cli import import_leads


def register_cli(app) -> None:
    app.cli.add_command(create_superadmin)
    app.cli.add_command(create_user)
    app.cli.add_command(secure_audit_log)
    app.cli.add_command(seed_demo)
    app.cli.add_command(worker)
    app.cli.add_command(seed_scale_command)
    app.cli.add_command(rebuild_rollups_command)
    app.cli.add_command(purge_abandoned_uploads)
    app.cli.add_command(requeue_stranded_command)
    app.cli.add_command(reset_mfa)
    app.cli.add_command(rotate_key)
    app.cli.add_command(import_leads)
    from app.ops.backups import backup_command, restore_command
    from app.ops.drill import reconcile_money_command, restore_drill_command

    for command in (backup_command, restore_command, restore_drill_command, reconcile_money_command):
        app.cli.add_command(command)


@click.command("create-superadmin")
@click.option("--email", prompt=True)
@click.option("--name", default="Platform owner", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_superadmin(email: str, name: str, password: str) -> None:
    """Create (or reset the password of) a super admin."""
    from app.accounts.operations import find_by_email, normalise_email
    from app.accounts.passwords import hash_password

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


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "superadmin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
def create_user(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create an active admin or super admin; without --password-stdin, print a set-password link (7 days)."""
    from app.accounts import staff
    from app.accounts.operations import AccountError

    password = None
    if password_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\r\n")
        if not 10 <= len(password) <= 128:
            raise click.BadParameter("the password needs 10 to 128 characters", param_hint="--password-stdin")
    try:
        user, link = staff.create_from_cli(email, name, "super_admin" if role == "superadmin" else role, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"{staff.STAFF_ROLES[user.role]} {user.email} is ready.")
    if link:
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        click.echo(f"Set-password link (works once, for 7 days): {base}{link}")


@click.command("reset-mfa")
@click.argument("email")
def reset_mfa(email: str) -> None:
    """Remove a user's two-factor authentication (lost phone and recovery codes); they set it up again."""
    from app.accounts import mfa
    from app.accounts.operations import find_by_email

    user = find_by_email(email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    if not mfa.reset(user):
        db.session.rollback()  # let go of the row lock taken to look
        raise click.ClickException(f"{user.email} has no two-factor authentication")
    db.session.commit()
    click.echo(f"Two-factor authentication removed for {user.email}; they set it up again at their next login.")


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
        "cp1-manager@demo.test",
        "cp1-viewer@demo.test",
        "cp2@demo.test",
        "cp3@demo.test",
        "cp4@demo.test",
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

    from app.files.storage import purge_abandoned_uploads as purge

    click.echo(f"Removed {purge(timedelta(hours=hours))} abandoned uploads.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker inside the app context (needs REDIS_URL).

    It first enqueues whatever waited in the database while Redis or the workers were down
    (app.jobs.tasks.requeue_stranded), then, unless --burst, enqueues that sweep every SWEEP_INTERVAL_SECONDS.
    """
    import redis

    from app.extensions import redis_handle
    from app.jobs.tasks import requeue_stranded
    from app.jobs.worker import JobWorker

    if redis_handle.client is None:
        raise click.ClickException("REDIS_URL is not set; jobs run in-process and no worker is needed.")
    click.echo(f"Requeued stranded work: {requeue_stranded()}")
    db.session.remove()
    db.engine.dispose()  # forked job processes open their own connections
    if not burst:
        _start_sweep_timer(current_app._get_current_object())
    queue = current_app.config["RQ_QUEUE"]
    # A connection of its own: RQ raises its socket timeout above the BLPOP wait, while the app's
    # client (used by jobs to enqueue) keeps its short one.
    connection = redis.Redis.from_url(current_app.config["REDIS_URL"])
    # Logs as the web does (JSON when JSON_LOGS is on, app/production.py), each job's lines with its ids.
    JobWorker([queue], connection=connection).work(burst=burst, with_scheduler=True)


def _start_sweep_timer(app) -> None:
    """A daemon thread that enqueues the sweep job (app.jobs.tasks.sweep_stranded) every SWEEP_INTERVAL_SECONDS.

    It only talks to Redis (the sweep itself runs in a work horse, with its own database connection),
    and names the job, so two workers or a slow queue never stack sweeps.
    """
    import threading
    import time

    from app.jobs.queue import WAIT, enqueue
    from app.jobs.tasks import SWEEP_JOB_ID, job_pending

    interval = max(int(app.config.get("SWEEP_INTERVAL_SECONDS", 60)), 1)

    def loop():
        while True:
            time.sleep(interval)
            with app.app_context():
                try:
                    if not job_pending(SWEEP_JOB_ID):
                        enqueue("app.jobs.tasks.sweep_stranded", retries=0, when_down=WAIT, job_id=SWEEP_JOB_ID)
                except Exception:  # keep sweeping: one failed round is retried at the next
                    current_app.logger.exception("could not enqueue the stranded-work sweep")

    threading.Thread(target=loop, name="stranded-sweep", daemon=True).start()


@click.command("requeue-stranded")
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Only rows untouched this long (default: STRANDED_GRACE_SECONDS, 300).",
)
def requeue_stranded_command(grace_seconds: int | None) -> None:
    """Enqueue again emails, announcements and report exports whose jobs were lost (e.g. Redis was down).

    `flask worker` does this at start and every minute; run it by hand after an outage, or from cron
    when no worker runs (without Redis the jobs run here).
    """
    from app.jobs.tasks import requeue_stranded

    counts = requeue_stranded(grace_seconds)
    click.echo(", ".join(f"{count} {kind}" for kind, count in counts.items()) + " requeued.")


@click.command("rebuild-rollups")
@click.option("--check", is_flag=True, help="Only compare the rollups with the rows; exit 1 if they differ.")
def rebuild_rollups_command(check: bool) -> None:
    """Recompute the maintained aggregates (app.reporting.rollups) from the rows, or reconcile them."""
    from app.reporting import rollups

    if check:
        problems = rollups.reconcile()
        for line in problems[:50]:
            click.echo(line)
        if problems:
            raise click.ClickException(f"{len(problems)} rollup figures differ from the rows.")
        click.echo("The rollups reconcile with the rows.")
        return
    started = time.perf_counter()
    count = rollups.rebuild()
    db.session.commit()
    click.echo(f"Rebuilt {count:,} rollup rows in {time.perf_counter() - started:.1f} s.")


@click.command("seed-scale")
@click.option("--cps", default=10_000, show_default=True, help="Approved channel partners.")
@click.option("--leads", default=1_000_000, show_default=True, help="Leads across all partners.")
@click.option("--months", default=24, show_default=True, help="How far back lead dates go.")
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--reset", is_flag=True, help="Wipe EVERY table of the database first.")
def seed_scale_command(cps: int, leads: int, months: int, seed: int, reset: bool) -> None:
    """Bulk-load a large realistic data set into PostgreSQL for the benchmark (bench/run.py)."""
    from app.tools.scale import seed_scale  # the generator is loaded only here, never by a web worker

    seed_scale(cps, leads, months, seed, reset)


@click.command("rotate-key")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1), help="Rows per transaction.")
def rotate_key(batch_size: int) -> None:
    """Re-encrypt every encrypted column with the first key of ENCRYPTION_KEYS (put the new key first).

    Keep the old key after the new one until this has finished; then it can be removed.
    """
    from app.crypto import rotate_keys

    try:
        counts = rotate_keys(batch_size)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    for column, tally in counts.items():
        click.echo(
            f"{column}: {tally['rotated']} re-encrypted, {tally['current']} already on the first key, "
            f"{tally['changed']} changed meanwhile (left as written)"
        )
    click.echo(f"Done: {sum(t['rotated'] for t in counts.values())} values re-encrypted with the first key.")
