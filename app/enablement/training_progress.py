"""Members taking training (SPEC §9.6): opening a module, marking it complete, quizzes scored on the server.

Progress is per member (a user of a partner). A non-quiz module is completed by an explicit "mark complete" after
it was opened: the module's page carries an `opened_token` (signed, naming the member, the module and the moment),
and marking complete requires it, so opening is proven without a GET writing anything. A quiz is completed by a
passing attempt, scored here against the stored correct options (the browser sends only the chosen options). A
member may try a quiz MAX_ATTEMPTS times in ATTEMPT_WINDOW; once passed it is done. Each completion then asks
certificates.issue_if_due, which certifies the member once.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from app.audit import trail as audit
from app.enablement import certificates
from app.errors import Refused
from app.extensions import db
from app.models import PartnerMember, TrainingAttempt, TrainingModule, TrainingProgress, User
from app.models.base import utcnow

MAX_ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(hours=24)
OPENED_MAX_AGE = 7 * 24 * 3600  # a module page left open for a week must be reloaded before marking it complete


class ProgressError(Refused):
    status = 409


class QuizIncomplete(Refused):
    """Some questions were not answered; `errors` maps each one's field name to its message."""

    status = 422

    def __init__(self, errors: dict):
        super().__init__("Answer every question.", next(iter(errors)))
        self.errors = errors


@dataclass(frozen=True)
class ModuleStatus:
    module: TrainingModule
    progress: TrainingProgress | None
    required: bool

    @property
    def done(self) -> bool:
        return self.progress is not None and self.progress.completed_at is not None


def has_completed_any_module(user) -> bool:
    """True once `user` has completed at least one training module (the onboarding checklist's step)."""
    if user is None or getattr(user, "id", None) is None:
        return False
    done = sa.select(TrainingProgress.id).where(
        TrainingProgress.user_id == user.id, TrainingProgress.completed_at.is_not(None)
    )
    return bool(db.session.scalar(sa.select(done.exists())))


def _progress(user: User, module: TrainingModule) -> TrainingProgress | None:
    return db.session.scalar(
        sa.select(TrainingProgress).where(TrainingProgress.user_id == user.id, TrainingProgress.module_id == module.id)
    )


def _lock_member(user: User) -> None:
    """Serialise one member's completions (PostgreSQL row lock), so the last of two racing completions sees the
    other's row and the certificate check runs on the whole set."""
    db.session.execute(sa.select(PartnerMember.id).where(PartnerMember.user_id == user.id).with_for_update())


def opened_token(user: User, module: TrainingModule) -> str:
    """The proof, put in the module page's "mark complete" form, that `user` opened `module` (and when)."""
    return _signer().dumps([str(user.id), str(module.id)])


def _opened_at(token: str | None, user: User, module: TrainingModule) -> datetime | None:
    try:
        ids, signed_at = _signer().loads(token or "", max_age=OPENED_MAX_AGE, return_timestamp=True)
    except BadData:
        return None
    if ids != [str(user.id), str(module.id)]:
        return None
    return signed_at.astimezone(UTC).replace(tzinfo=None)


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="training-opened")


def _row(user: User, module: TrainingModule, opened_at: datetime | None = None) -> TrainingProgress:
    row = _progress(user, module)
    if row is None:
        row = TrainingProgress(
            module_id=module.id, user_id=user.id, partner_id=user.partner.id, opened_at=opened_at or utcnow()
        )
        db.session.add(row)
    return row


def _complete(user: User, module: TrainingModule, score: int | None = None, opened_at: datetime | None = None):
    _lock_member(user)
    row = _row(user, module, opened_at)
    if row.completed_at is None:
        row.completed_at = utcnow()
        row.best_score = score
        db.session.flush()
        audit.record(user, "training.module_completed", row, after={"module": module.title, "score": score})
    db.session.flush()
    return certificates.issue_if_due(user)


def mark_complete(user: User, module: TrainingModule, opened: str | None):
    """Complete a video, file or document module the member opened (`opened`: the page's opened_token).

    Returns the certificate if this completion made one."""
    if module.kind == "quiz":
        raise ProgressError("A quiz is completed by passing it.")
    opened_at = _opened_at(opened, user, module)
    if opened_at is None:
        raise ProgressError("Open the module before marking it complete.")
    return _complete(user, module, opened_at=opened_at)


def attempts_left(user: User, module: TrainingModule) -> int:
    since = utcnow() - ATTEMPT_WINDOW
    used = db.session.scalar(
        sa.select(sa.func.count()).where(
            TrainingAttempt.user_id == user.id,
            TrainingAttempt.module_id == module.id,
            TrainingAttempt.created_at >= since,
        )
    )
    return max(MAX_ATTEMPTS - (used or 0), 0)


def _is_index(value) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 2


def _chosen(module: TrainingModule, answers: dict) -> dict:
    """{question id: sorted option indexes} from `answers` ({field name: list of strings}); unanswered refused."""
    chosen, missing = {}, {}
    for number, question in enumerate(module.questions, start=1):
        raw = answers.get(f"q-{question.id}") or []
        picks = sorted({int(v) for v in raw if _is_index(v) and int(v) < len(question.options)})
        if not picks:
            missing[f"q-{question.id}"] = f"Answer question {number}."
        chosen[str(question.id)] = picks
    if missing:
        raise QuizIncomplete(missing)
    return chosen


def submit_quiz(user: User, module: TrainingModule, answers: dict) -> TrainingAttempt:
    """Score a quiz attempt: a question counts when exactly its correct options are chosen; pass at the pass mark."""
    if module.kind != "quiz" or not module.questions:
        raise ProgressError("This module has no quiz to take.")
    _lock_member(user)  # two tabs at once: the attempt limit and the pass are counted in turn
    row = _progress(user, module)
    if row is not None and row.completed_at is not None:
        raise ProgressError("You have passed this quiz already.")
    if attempts_left(user, module) <= 0:
        raise ProgressError(f"You have used your {MAX_ATTEMPTS} attempts for today. Try again tomorrow.")
    chosen = _chosen(module, answers)
    right = sum(1 for q in module.questions if chosen[str(q.id)] == sorted(q.correct))
    score = round(100 * right / len(module.questions))
    attempt = TrainingAttempt(
        module_id=module.id, user_id=user.id, answers=chosen, score=score, passed=score >= module.pass_mark
    )
    db.session.add(attempt)
    db.session.flush()
    audit.record(user, "training.quiz_attempted", attempt, after={"module": module.title, "score": score})
    if attempt.passed:
        _complete(user, module, score)
    return attempt


def statuses(user: User) -> list[ModuleStatus]:
    """Every module in order with this member's progress and whether the partner's tier requires it."""
    modules = db.session.scalars(sa.select(TrainingModule).order_by(TrainingModule.position, TrainingModule.id))
    rows = db.session.scalars(sa.select(TrainingProgress).where(TrainingProgress.user_id == user.id))
    by_module = {row.module_id: row for row in rows}
    tier = user.partner.tier
    return [ModuleStatus(m, by_module.get(m.id), m.required_for(tier)) for m in modules]


def status(user: User, module: TrainingModule) -> ModuleStatus:
    """One module's status for `user` (see statuses)."""
    return ModuleStatus(module, _progress(user, module), module.required_for(user.partner.tier))


def last_attempt(user: User, module: TrainingModule) -> TrainingAttempt | None:
    return db.session.scalar(
        sa.select(TrainingAttempt)
        .where(TrainingAttempt.user_id == user.id, TrainingAttempt.module_id == module.id)
        .order_by(TrainingAttempt.created_at.desc())
        .limit(1)
    )
