"""The marketing asset library (SPEC 9.6, issue 20 item 5): admins publish, partners of a high enough tier download.

An asset is a file of one type (logo, banner, flyer, email or proposal template) with a thumbnail made on upload,
an optional catalog category and the lowest partner tier that sees it. Retiring an asset (is_active False) hides it
from partners and keeps its counts. Every change by an admin writes an audit row; every download by a partner
adds one to the asset's count in SQL (concurrent downloads all count) and a row naming the partner.

Writes take the acting user and flush; the view commits. Reads for partners go through `partner_statement`, the
one place that applies the tier and the active flag.
"""

import uuid

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import selectinload

from app.audit import trail as audit
from app.enablement import assets_files
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.files.checks import UploadRejected
from app.loaders import get_or_404
from app.models import Category, ChannelPartner
from app.models.assets import ASSET_TYPE_LABELS, AssetDownload, MarketingAsset
from app.models.partners import TIERS

# Types whose co-branded PDF a partner may download (assets_pdf.py): the flyer on a branded page, and a branded
# cover sheet for a proposal.
COBRANDED_TYPES = ("flyer", "proposal_template")
LIST_LOADS = (selectinload(MarketingAsset.file), selectinload(MarketingAsset.category))
AUDITED = ("title", "description", "asset_type", "category_id", "min_tier", "is_active", "file_id")


class AssetError(Refused):
    """A refused asset change; the message is shown beside `field`."""

    status = 422


# --- reads ---------------------------------------------------------------------------------------


def tiers_up_to(tier: str) -> tuple[str, ...]:
    """The tiers whose assets a partner of `tier` sees: its own and every lower one."""
    return TIERS[: TIERS.index(tier) + 1] if tier in TIERS else TIERS[:1]


def partner_statement(partner: ChannelPartner, asset_type: str | None = None, category_id=None) -> sa.Select:
    """The active assets `partner`'s tier allows, newest first, optionally of one type and category."""
    stmt = sa.select(MarketingAsset).where(
        MarketingAsset.is_active.is_(True), MarketingAsset.min_tier.in_(tiers_up_to(partner.tier))
    )
    if asset_type:
        stmt = stmt.where(MarketingAsset.asset_type == asset_type)
    if category_id:
        stmt = stmt.where(MarketingAsset.category_id == category_id)
    return stmt.options(*LIST_LOADS).order_by(MarketingAsset.created_at.desc(), MarketingAsset.id)


def admin_statement(asset_type: str | None = None, active: bool | None = None) -> sa.Select:
    """Every asset for the admin's list, newest first, optionally of one type and state."""
    stmt = sa.select(MarketingAsset)
    if asset_type:
        stmt = stmt.where(MarketingAsset.asset_type == asset_type)
    if active is not None:
        stmt = stmt.where(MarketingAsset.is_active.is_(active))
    return stmt.options(*LIST_LOADS).order_by(MarketingAsset.created_at.desc(), MarketingAsset.id)


def load_for_partner(partner: ChannelPartner, asset_id) -> MarketingAsset:
    """An asset `partner` may see (active, tier allowed), else 404: a higher tier's asset is as if missing."""
    asset = get_or_404(MarketingAsset, asset_id)
    if not asset.is_active or asset.min_tier not in tiers_up_to(partner.tier):
        abort(404)
    return asset


def load(asset_id) -> MarketingAsset:
    """Any asset, for staff (the admin portal admits admins only)."""
    return get_or_404(MarketingAsset, asset_id)


def downloads_by_partner(asset: MarketingAsset, limit: int = 20) -> list:
    """(company name, downloads, last download) per partner, the most downloads first."""
    count, last = sa.func.count(AssetDownload.id), sa.func.max(AssetDownload.created_at)
    stmt = (
        sa.select(ChannelPartner.company_name, count, last)
        .join(ChannelPartner, ChannelPartner.id == AssetDownload.cp_id)
        .where(AssetDownload.asset_id == asset.id)
        .group_by(ChannelPartner.id, ChannelPartner.company_name)
        .order_by(count.desc(), ChannelPartner.company_name)
        .limit(limit)
    )
    return list(db.session.execute(stmt))


def parse_category(value) -> uuid.UUID | None:
    """A category id from a form (None for "no category" or an unreadable id, which the form's choices exclude)."""
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def is_cobranded(asset: MarketingAsset) -> bool:
    return asset.asset_type in COBRANDED_TYPES


# --- writes --------------------------------------------------------------------------------------


def _snapshot(asset: MarketingAsset) -> dict:
    return {name: getattr(asset, name) for name in AUDITED}


def _check_fields(asset_type: str, category_id, min_tier: str, title: str) -> None:
    if not title.strip():
        raise AssetError("Give the asset a title.", "title")
    if asset_type not in ASSET_TYPE_LABELS:
        raise AssetError("Choose one of the asset types.", "asset_type")
    if min_tier not in TIERS:
        raise AssetError("Choose one of the tiers.", "min_tier")
    if category_id is not None and db.session.get(Category, category_id) is None:
        raise AssetError("That category does not exist.", "category_id")


def _store_file(upload, asset_type: str, title: str, actor):
    try:
        clean = assets_files.check_upload(upload, asset_type)
    except UploadRejected as exc:
        raise AssetError(str(exc), "file") from None
    return assets_files.store(clean, title, actor=actor)


def create_asset(*, actor, title: str, description: str, asset_type: str, category_id, min_tier: str, upload):
    """Publish a new asset: the file checked for its type (images stored without metadata), a thumbnail made."""
    _check_fields(asset_type, category_id, min_tier, title)
    stored, thumbnail = _store_file(upload, asset_type, title.strip(), actor)
    asset = MarketingAsset(
        title=title.strip(),
        description=(description or "").strip(),
        asset_type=asset_type,
        category_id=category_id,
        min_tier=min_tier,
        file_id=stored.id,
        thumbnail_file_id=thumbnail.id,
        created_by=actor.id,
    )
    db.session.add(asset)
    db.session.flush()
    audit.record(actor, "asset.created", asset, None, _snapshot(asset))
    return asset


def update_asset(asset: MarketingAsset, *, actor, title, description, asset_type, category_id, min_tier, upload=None):
    """Change an asset's details and, when `upload` holds a file, replace its file and thumbnail (the old ones are
    deleted).

    A new type must accept the file the asset keeps: a logo cannot become a proposal template without a new file.
    """
    _check_fields(asset_type, category_id, min_tier, title)
    before = _snapshot(asset)
    if upload is not None and getattr(upload, "filename", None):
        stored, thumbnail = _store_file(upload, asset_type, title.strip(), actor)
        replaced = [f for f in (asset.file, asset.thumbnail) if f is not None]
        asset.file_id, asset.thumbnail_file_id = stored.id, thumbnail.id
        db.session.flush()
        for old in replaced:  # the row now, the bytes once the transaction commits
            storage.delete(old)
    elif asset.file.original_name.rpartition(".")[2].lower() not in assets_files.EXTENSIONS[asset_type]:
        raise AssetError(
            f"The current file is not a {ASSET_TYPE_LABELS[asset_type].lower()}: upload one with the new type.",
            "asset_type",
        )
    asset.title, asset.description = title.strip(), (description or "").strip()
    asset.asset_type, asset.category_id, asset.min_tier = asset_type, category_id, min_tier
    db.session.flush()
    db.session.refresh(asset, ["file", "thumbnail", "category"])
    audit.record(actor, "asset.updated", asset, before, _snapshot(asset))
    return asset


def set_active(asset: MarketingAsset, active: bool, *, actor) -> MarketingAsset:
    """Retire an asset (partners no longer see it; its counts stay) or bring it back. Idempotent."""
    if asset.is_active != active:
        asset.is_active = active
        db.session.flush()
        audit.record(actor, "asset.restored" if active else "asset.retired", asset, {"is_active": not active},
                     {"is_active": active})  # fmt: skip
    return asset


def record_download(asset: MarketingAsset, *, partner: ChannelPartner, actor, cobranded: bool = False) -> None:
    """Count one download: +1 on the asset in SQL (no lost update between concurrent downloads) and a row for
    the partner."""
    db.session.execute(
        sa.update(MarketingAsset)
        .where(MarketingAsset.id == asset.id)
        .values(download_count=MarketingAsset.download_count + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.add(AssetDownload(asset_id=asset.id, cp_id=partner.id, user_id=actor.id, cobranded=cobranded))
    db.session.flush()
