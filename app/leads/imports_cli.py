"""`flask import-leads FILE --category SLUG [--partner-code CODE] [--as EMAIL]`: an import run synchronously,
through the same upload, mapping and job as the web pages (the intake benchmark times it)."""

import time
from pathlib import Path

import click
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.extensions import db


@click.command("import-leads")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--category", "slug", required=True, help="The slug of the leads' category.")
@click.option("--partner-code", default=None, help="Import as this partner's leads (its quota applies).")
@click.option("--as", "email", default=None, help="The importing user (default: the partner's owner or an admin).")
def import_leads(path: Path, slug: str, partner_code: str | None, email: str | None) -> None:
    """Upload FILE (CSV or XLSX), map its columns automatically and run the import job here."""
    from app.jobs.imports import run_import
    from app.leads import imports
    from app.leads.intake import IntakeRefused
    from app.models import Category, ChannelPartner, LeadImport, User

    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    if category is None:
        raise click.BadParameter(f"no category with slug {slug!r}", param_hint="--category")
    partner = None
    if partner_code:
        partner = db.session.scalar(sa.select(ChannelPartner).where(ChannelPartner.code == partner_code))
        if partner is None:
            raise click.BadParameter(f"no partner with code {partner_code!r}", param_hint="--partner-code")
    if email:
        actor = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    elif partner is not None:
        actor = partner.user
    else:
        actor = db.session.scalar(sa.select(User).where(User.role.in_(("admin", "super_admin"))).limit(1))
    if actor is None:
        raise click.BadParameter("no such user (create an admin first)", param_hint="--as")
    began = time.perf_counter()
    with path.open("rb") as handle:
        try:
            imp = imports.upload(
                FileStorage(handle, filename=path.name), actor=actor, partner=partner, category=category
            )
            imports.start(imp, imp.mapping, actor, queue=False)
        except (imports.ImportRefused, IntakeRefused) as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
    db.session.commit()
    import_id = imp.id
    run_import(str(import_id))
    seconds = time.perf_counter() - began
    db.session.expire_all()
    imp = db.session.get(LeadImport, import_id)
    click.echo(
        f"{imp.status}: {imp.processed_rows} rows in {seconds:.1f} s ({imp.processed_rows / seconds:,.0f} rows/s); "
        f"created {imp.created_count}, duplicates {imp.duplicate_count}, rejected {imp.rejected_count}, "
        f"skipped {imp.skipped_count}"
    )
    if imp.error:
        raise click.ClickException(imp.error)
