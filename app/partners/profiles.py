"""Company profiles, bank details, logos and avatars.

Bank details are where commission money goes: every change is audited with before and after (secret
fields masked), sends KYC back to unverified and tells the admins (app.partners.kyc).
"""

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from app.audit import trail as audit
from app.extensions import db
from app.files import storage
from app.models import ChannelPartner, StoredFile, User
from app.models.partners import BANK_FIELDS
from app.partners import kyc

COMPANY_FIELDS = ("company_name", "contact_phone", "website", "address")
IMAGES = ("image",)


def partners_statement(statuses=None, query: str = "") -> sa.Select:
    """Partners (in `statuses`, when given) whose company name or owner's email contains `query`, with the owner
    loaded; unordered. The staff partner lists and the API read partners through it."""
    stmt = (
        sa.select(ChannelPartner)
        .options(contains_eager(ChannelPartner.user))
        .join(User, User.id == ChannelPartner.user_id)
    )
    if statuses:
        stmt = stmt.where(ChannelPartner.status.in_(statuses))
    query = (query or "").strip().lower()
    if query:
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(ChannelPartner.company_name).like(like, escape="\\"), User.email.like(like, escape="\\")
            )
        )
    return stmt


def _clean(value):
    value = (value or "").strip() if isinstance(value, str) or value is None else value
    return value or None


def _bank_value(field: str, value):
    value = _clean(value)
    if value is None:
        return "bank_transfer" if field == "payout_method" else None
    if field in ("bank_iban", "bank_swift_code", "bank_currency"):
        return value.replace(" ", "").upper()  # stored compact; the settle screen groups the IBAN by four
    return value


def update_company(partner: ChannelPartner, data: dict, *, actor) -> bool:
    """Change the company name and contact details; returns whether anything changed."""
    before = audit.snapshot(partner, *COMPANY_FIELDS)
    for field in COMPANY_FIELDS:
        setattr(partner, field, _clean(data.get(field)))
    partner.company_name = partner.company_name or before["company_name"]
    after = audit.snapshot(partner, *COMPANY_FIELDS)
    if before == after:
        return False
    audit.record(actor, "partner.profile_updated", partner, before, after)
    db.session.flush()
    return True


def update_bank_details(partner: ChannelPartner, data: dict, *, actor) -> bool:
    """Change bank details (the fields present in `data`); returns whether anything changed.

    A change sends KYC back to unverified and tells every admin; the audit row has before and after with
    the account number, IBAN and tax id masked, and names the fields that changed.
    """
    before_values = {field: getattr(partner, field) for field in BANK_FIELDS}
    before = kyc.bank_snapshot(partner)
    for field in BANK_FIELDS:
        if field in data:
            setattr(partner, field, _bank_value(field, data[field]))
    changed = [field for field in BANK_FIELDS if getattr(partner, field) != before_values[field]]
    if not changed:
        return False
    kyc.reset_after_change(partner, changed)
    audit.record(
        actor, "partner.bank_details_changed", partner, before, {**kyc.bank_snapshot(partner), "changed": changed}
    )
    db.session.flush()
    return True


def _replace_file(old_id, new_file: StoredFile | None) -> None:
    if old_id and (new_file is None or old_id != new_file.id):
        old = db.session.get(StoredFile, old_id)
        if old is not None:
            storage.delete(old)


def set_logo(partner: ChannelPartner, upload, *, actor) -> StoredFile:
    """Store a new company logo (images only) and drop the old one."""
    new = storage.save_upload(upload, "logo", actor=actor, cp_id=partner.id, allowed=IMAGES)
    old_id, partner.logo_file_id = partner.logo_file_id, new.id
    db.session.flush()
    _replace_file(old_id, new)
    audit.record(actor, "partner.logo_changed", partner, {"logo_file_id": old_id}, {"logo_file_id": new.id})
    return new


def remove_logo(partner: ChannelPartner, *, actor) -> None:
    old_id, partner.logo_file_id = partner.logo_file_id, None
    db.session.flush()
    if old_id:
        _replace_file(old_id, None)
        audit.record(actor, "partner.logo_changed", partner, {"logo_file_id": old_id}, {"logo_file_id": None})


def set_avatar(user: User, upload, *, actor) -> StoredFile:
    """Store a new avatar for `user` (images only) and drop the old one."""
    cp_id = user.partner.id if user.is_cp and user.partner else None
    new = storage.save_upload(upload, "avatar", actor=actor, cp_id=cp_id, allowed=IMAGES)
    old_id, user.avatar_file_id = user.avatar_file_id, new.id
    db.session.flush()
    _replace_file(old_id, new)
    return new


def remove_avatar(user: User, *, actor) -> None:
    old_id, user.avatar_file_id = user.avatar_file_id, None
    db.session.flush()
    _replace_file(old_id, None)


def profile_view(partner: ChannelPartner, viewer: User) -> dict:
    """What a staff profile page shows beyond the partner row: history, category content, the team and the
    newest page of its activity feed."""
    import sqlalchemy as sa
    from sqlalchemy.orm import selectinload

    from app.models import AuditEvent, CpCategoryContent

    contents = list(
        db.session.scalars(
            sa.select(CpCategoryContent)
            .options(selectinload(CpCategoryContent.images), selectinload(CpCategoryContent.category))
            .where(CpCategoryContent.cp_id == partner.id)
            .order_by(CpCategoryContent.updated_at.desc())
        )
    )
    content_ids = [str(c.id) for c in contents]
    history = db.session.scalars(
        sa.select(AuditEvent)
        .options(selectinload(AuditEvent.actor))
        .where(
            sa.or_(
                sa.and_(AuditEvent.entity_type == "channel_partners", AuditEvent.entity_id == str(partner.id)),
                sa.and_(AuditEvent.entity_type == "cp_category_content", AuditEvent.entity_id.in_(content_ids)),
            )
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(50)
    )
    from app.audit import queries as audit_queries
    from app.partners import activity, members

    return {
        "contents": contents,
        "history": list(history),
        "people": members.members_of(partner),
        "activity": activity.feed(partner),
        "diff": audit_queries.diff,
    }
