"""All models, imported here so Alembic and the app see the whole schema."""

from app.models.api import ApiKey, ApiRefreshToken, ApiTokenFamily
from app.models.assets import AssetDownload, MarketingAsset  # noqa: F401  (asset library: app/enablement/assets*.py)
from app.models.audit import AuditEvent
from app.models.categories import Category, CategoryImage, ContentImage, CpCategoryContent
from app.models.comms import Announcement, AnnouncementTarget, EmailOutbox, Notification, SmsOutbox
from app.models.fees import PlatformFeeConfig
from app.models.files import StoredFile
from app.models.finance import (
    CommissionTransaction,
    CpPayment,
    PlatformFeeSettlement,
    PlatformFeeSettlementItem,
    StripeEvent,
)
from app.models.goals import PartnerGoal
from app.models.idempotency import IdempotencyKey
from app.models.intake import (
    CategoryField,
    IntakeSettings,
    LeadConfirmation,
    LeadImport,
    OriginationCredit,
    ReferralVisit,
)
from app.models.leads import Lead, LeadActivity, LeadEvidence, LeadNote
from app.models.members import PartnerInvite, PartnerMember
from app.models.partners import ChannelPartner
from app.models.reports import ReportExport
from app.models.security import MfaCredential, MfaRecoveryCode
from app.models.tokens import OneTimeToken
from app.models.training import (  # noqa: F401  (training: app/enablement/training*.py)
    TrainingAttempt,
    TrainingCertificate,
    TrainingModule,
    TrainingProgress,
    TrainingQuestion,
)
from app.models.users import User, UserSession
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "ApiRefreshToken",
    "ApiTokenFamily",
    "SmsOutbox",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Announcement",
    "AnnouncementTarget",
    "AuditEvent",
    "Category",
    "CategoryField",
    "CategoryImage",
    "ChannelPartner",
    "CommissionTransaction",
    "ContentImage",
    "CpCategoryContent",
    "CpPayment",
    "EmailOutbox",
    "IdempotencyKey",
    "IntakeSettings",
    "Lead",
    "LeadActivity",
    "LeadConfirmation",
    "LeadEvidence",
    "LeadImport",
    "LeadNote",
    "MfaCredential",
    "PartnerGoal",
    "PartnerInvite",
    "PartnerMember",
    "MfaRecoveryCode",
    "Notification",
    "OneTimeToken",
    "OriginationCredit",
    "PlatformFeeConfig",
    "PlatformFeeSettlement",
    "PlatformFeeSettlementItem",
    "ReferralVisit",
    "ReportExport",
    "StoredFile",
    "StripeEvent",
    "User",
    "UserSession",
]
