"""Training authoring (SPEC §9.6): admins create, edit, reorder and delete modules and write quiz questions.

Every operation takes the acting admin, refuses with a TrainingError (status, field), writes an audit row and
only flushes; the view commits. Members' progress lives in training_progress.py, certificates in certificates.py.
`has_completed_any_module` (the onboarding checklist's "first training module") is re-exported here.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.audit import trail as audit
from app.enablement.training_progress import has_completed_any_module
from app.errors import Refused
from app.extensions import db
from app.files import storage
from app.models import TrainingModule, TrainingQuestion, User
from app.models.partners import TIERS
from app.models.training import MODULE_KINDS

__all__ = ["has_completed_any_module", "TrainingError", "ModuleData", "modules", "create_module", "update_module"]

FILE_GROUPS = ("pdf", "document", "image")
MAX_OPTIONS = 8
MAX_QUESTIONS = 50
AUDITED = ("title", "kind", "position", "video_url", "pass_mark", "duration_minutes", "required_tiers")


class TrainingError(Refused):
    status = 422


@dataclass
class ModuleData:
    """What an admin sends for a module; `upload` is a file (a werkzeug FileStorage) for the "file" kind."""

    title: str
    kind: str
    summary: str = ""
    video_url: str | None = None
    body: str | None = None
    pass_mark: int | None = None
    duration_minutes: int | None = None
    required_tiers: tuple = ()
    upload: object = None


def modules() -> list[TrainingModule]:
    """Every module in course order."""
    return list(db.session.scalars(sa.select(TrainingModule).order_by(TrainingModule.position, TrainingModule.id)))


def _https_url(value: str | None) -> str:
    url = (value or "").strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or len(url) > 500 or any(c.isspace() for c in url):
        raise TrainingError("Give the video's https:// link.", "video_url")
    return url


def _check(data: ModuleData, module: TrainingModule | None) -> dict:
    """The fields to store for `data`'s kind; the other kinds' fields are cleared."""
    title = (data.title or "").strip()
    if not title:
        raise TrainingError("Give the module a title.", "title")
    if data.kind not in MODULE_KINDS:
        raise TrainingError("Choose what kind of module this is.", "kind")
    tiers = [t for t in TIERS if t in set(data.required_tiers or ())]
    if len(tiers) != len(set(data.required_tiers or ())):
        raise TrainingError("Choose tiers from the list.", "required_tiers")
    values = {
        "title": title[:200],
        "kind": data.kind,
        "summary": (data.summary or "").strip()[:500],
        "duration_minutes": data.duration_minutes,
        "required_tiers": tiers,
        "video_url": _https_url(data.video_url) if data.kind == "video" else None,
        "body": None,
        "pass_mark": None,
    }
    if data.kind == "document":
        values["body"] = (data.body or "").strip()
        if not values["body"]:
            raise TrainingError("Write the document's text.", "body")
    if data.kind == "quiz":
        if data.pass_mark is None or not 1 <= data.pass_mark <= 100:
            raise TrainingError("Give a pass mark from 1 to 100 %.", "pass_mark")
        values["pass_mark"] = data.pass_mark
    if data.kind == "file" and not storage.has_upload(data.upload) and (module is None or module.file_id is None):
        raise TrainingError("Choose the file members will open.", "upload")
    return values


def _store_upload(actor: User, module: TrainingModule, data: ModuleData) -> None:
    if data.kind != "file" or not storage.has_upload(data.upload):
        return
    try:
        stored = storage.save_upload(data.upload, "training", actor=actor, allowed=FILE_GROUPS)
    except storage.UploadRejected as exc:
        raise TrainingError(str(exc), "upload") from exc
    _drop_file(module)
    module.file = stored


def _drop_file(module: TrainingModule) -> None:
    """Remove the module's file (its bytes go once the transaction commits)."""
    old = module.file
    module.file = None
    if old is not None:
        storage.delete(old)


def create_module(actor: User, data: ModuleData) -> TrainingModule:
    """Add a module at the end of the course."""
    values = _check(data, None)
    last = db.session.scalar(sa.select(sa.func.max(TrainingModule.position))) or 0
    module = TrainingModule(**values, position=last + 1, created_by=actor.id)
    db.session.add(module)
    _store_upload(actor, module, data)
    db.session.flush()
    audit.record(actor, "training.module_created", module, after=audit.snapshot(module, *AUDITED))
    return module


def update_module(actor: User, module: TrainingModule, data: ModuleData) -> TrainingModule:
    """Change a module's content, kind or required tiers; a new file replaces the old one."""
    values = _check(data, module)
    before = audit.snapshot(module, *AUDITED)
    for name, value in values.items():
        setattr(module, name, value)
    _store_upload(actor, module, data)
    if module.kind != "file":
        _drop_file(module)
    db.session.flush()
    audit.record(actor, "training.module_updated", module, before=before, after=audit.snapshot(module, *AUDITED))
    return module


def delete_module(actor: User, module: TrainingModule) -> None:
    """Remove a module with its questions and members' progress; issued certificates stay."""
    audit.record(actor, "training.module_deleted", module, before=audit.snapshot(module, *AUDITED))
    _drop_file(module)
    db.session.delete(module)
    db.session.flush()


def move_module(actor: User, module: TrainingModule, direction: str) -> None:
    """Swap a module with its neighbour ("up" or "down"); at either end nothing changes."""
    if direction not in ("up", "down"):
        raise TrainingError("Move a module up or down.", "direction")
    ordered = modules()
    for number, item in enumerate(ordered, start=1):
        item.position = number  # close gaps first so a swap is always one step
    index = ordered.index(module)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        neighbour = ordered[other]
        module.position, neighbour.position = neighbour.position, module.position
        audit.record(actor, "training.module_moved", module, after={"position": module.position})
    db.session.flush()


def parse_options(text: str) -> tuple[list[str], list[int]]:
    """Options one per line; a line starting with "*" is a correct one. Returns (options, correct indexes)."""
    options, correct = [], []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        if line.startswith("*"):
            correct.append(len(options))
            line = line[1:].strip()
        if not line:
            raise TrainingError("An option needs text after the *.", "options")
        options.append(line[:300])
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise TrainingError(f"Give from 2 to {MAX_OPTIONS} options, one per line.", "options")
    if not correct:
        raise TrainingError("Mark at least one correct option with a * at the start of its line.", "options")
    return options, correct


def add_question(actor: User, module: TrainingModule, prompt: str, options_text: str) -> TrainingQuestion:
    """Add a question at the end of a quiz."""
    if module.kind != "quiz":
        raise TrainingError("Only a quiz has questions.", "prompt")
    prompt = (prompt or "").strip()
    if not prompt:
        raise TrainingError("Write the question.", "prompt")
    if len(module.questions) >= MAX_QUESTIONS:
        raise TrainingError(f"A quiz has at most {MAX_QUESTIONS} questions.", "prompt")
    options, correct = parse_options(options_text)
    position = max((q.position for q in module.questions), default=0) + 1
    question = TrainingQuestion(prompt=prompt[:2000], options=options, correct=correct, position=position)
    module.questions.append(question)
    db.session.flush()
    audit.record(actor, "training.question_added", module, after={"prompt": question.prompt, "options": len(options)})
    return question


def delete_question(actor: User, question: TrainingQuestion) -> None:
    audit.record(actor, "training.question_deleted", question.module, before={"prompt": question.prompt})
    db.session.delete(question)
    db.session.flush()
