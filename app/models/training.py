"""Training (SPEC §9.6, seed 002): ordered modules, each member's progress, quiz attempts and certificates."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, enum, fk, pk, utcnow

MODULE_KINDS = ("video", "file", "document", "quiz")


class TrainingModule(Timestamps, db.Model):
    """One step of the course: a video link, an uploaded file, a document (escaped markdown) or a quiz."""

    __tablename__ = "training_modules"

    id: Mapped[uuid.UUID] = pk()
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    summary: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    kind: Mapped[str] = mapped_column(enum(*MODULE_KINDS, name="training_kind"), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    video_url: Mapped[str | None] = mapped_column(sa.String(500))
    file_id: Mapped[uuid.UUID | None] = fk("stored_files.id", nullable=True, ondelete="SET NULL")
    body: Mapped[str | None] = mapped_column(sa.Text)
    pass_mark: Mapped[int | None] = mapped_column(sa.Integer)  # percent, quizzes only
    duration_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    # The partner tiers (app.models.partners.TIERS) whose members must pass this module to be certified.
    required_tiers: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    created_by: Mapped[uuid.UUID | None] = fk("users.id", nullable=True, ondelete="SET NULL")

    file = relationship("StoredFile")
    questions = relationship(
        "TrainingQuestion",
        order_by="TrainingQuestion.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        back_populates="module",
    )

    def required_for(self, tier: str) -> bool:
        return tier in (self.required_tiers or [])


class TrainingQuestion(db.Model):
    """A quiz question: its options in order and the indexes of the correct ones (one or more)."""

    __tablename__ = "training_questions"

    id: Mapped[uuid.UUID] = pk()
    module_id: Mapped[uuid.UUID] = fk("training_modules.id", ondelete="CASCADE")
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    prompt: Mapped[str] = mapped_column(sa.Text, nullable=False)
    options: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    correct: Mapped[list] = mapped_column(sa.JSON, nullable=False)

    module = relationship("TrainingModule", back_populates="questions")


class TrainingProgress(db.Model):
    """One member's progress on one module: opened, then completed (marked, or a passed quiz)."""

    __tablename__ = "training_progress"
    __table_args__ = (sa.UniqueConstraint("module_id", "user_id", name="uq_training_progress_module_user"),)

    id: Mapped[uuid.UUID] = pk()
    module_id: Mapped[uuid.UUID] = fk("training_modules.id", ondelete="CASCADE")
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE")
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime, index=True)
    best_score: Mapped[int | None] = mapped_column(sa.Integer)


class TrainingAttempt(db.Model):
    """A submitted quiz, scored on the server: the chosen option indexes per question id, the score, the verdict."""

    __tablename__ = "training_attempts"

    id: Mapped[uuid.UUID] = pk()
    module_id: Mapped[uuid.UUID] = fk("training_modules.id", ondelete="CASCADE")
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE")
    answers: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    score: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    passed: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow, index=True)


class TrainingCertificate(db.Model):
    """Issued once per member (unique user_id) when every module required for the partner's tier is passed."""

    __tablename__ = "training_certificates"

    id: Mapped[uuid.UUID] = pk()
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", unique=True)
    partner_id: Mapped[uuid.UUID] = fk("channel_partners.id", ondelete="CASCADE")
    code: Mapped[str] = mapped_column(sa.String(20), nullable=False, unique=True)
    tier: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime, nullable=False, default=utcnow)

    user = relationship("User")
    partner = relationship("ChannelPartner")
