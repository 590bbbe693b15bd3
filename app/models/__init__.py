"""All models, imported here so Alembic and the app see the whole schema."""

from app.models.audit import AuditEvent
from app.models.categories import Category, CategoryImage, ContentImage, CpCategoryContent
from app.models.comms import Announcement, AnnouncementTarget, EmailOutbox, Notification
from app.models.fees import PlatformFeeConfig
from app.models.files import StoredFile
from app.models.finance import (
    CommissionTransaction,
    CpPayment,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
    StripeEvent,
)
from app.models.idempotency import IdempotencyKey
from app.models.leads import Lead, LeadActivity, LeadEvidence, LeadNote
from app.models.partners import ChannelPartner
from app.models.reports import ReportExport
from app.models.users import User, UserSession

__all__ = [
    "Announcement",
    "AnnouncementTarget",
    "AuditEvent",
    "Category",
    "CategoryImage",
    "ChannelPartner",
    "CommissionTransaction",
    "ContentImage",
    "CpCategoryContent",
    "CpPayment",
    "EmailOutbox",
    "IdempotencyKey",
    "Lead",
    "LeadActivity",
    "LeadEvidence",
    "LeadNote",
    "Notification",
    "PlatformFeeConfig",
    "PlatformFeeSettlement",
    "PlatformFeeSettlementItem",
    "ReportExport",
    "StoredFile",
    "StripeEvent",
    "User",
    "UserSession",
]
