"""Training for the demo: four modules (a video, a reading, a file, a quiz), and Northwind's manager certified so the
team page shows a badge; cp1 itself has started. Safe to run twice: modules are found by title, progress and the
certificate are recorded once by the services."""

import io

import sqlalchemy as sa
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from app.enablement import training
from app.enablement import training_progress as progress
from app.extensions import db
from app.models import TrainingModule, User

TIERS = ["bronze", "silver", "gold", "platinum"]
READING = """Every lead you accept is a promise to the customer. Work it within two working days.

- Call first, then email a short summary.
- Note each contact on the lead so your team sees it.
- Move the card on the board when the stage changes.

Read the full **partner playbook** at [leadflow.example](https://leadflow.example/playbook)."""
QUESTIONS = [
    ("How soon should you first contact a new lead?", "* Within two working days\nWithin a month\nOnly when they call"),
    (
        "Which are good habits? (choose all that apply)",
        "* Note each contact\n* Move the card when the stage changes\nKeep notes in your inbox",
    ),
    ("Who sees the notes on a lead?", "* Your team and the platform's admins\nNobody\nEvery partner"),
]


def _guide_pdf() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setFont("Helvetica-Bold", 18)
    page.drawString(72, 770, "Proposal guide")
    page.setFont("Helvetica", 11)
    page.drawString(72, 740, "Open with the customer's goal, price in their terms, close with one clear next step.")
    page.save()
    return buffer.getvalue()


def _modules(admin: User) -> dict:
    existing = {m.title: m for m in db.session.scalars(sa.select(TrainingModule))}
    guide = FileStorage(io.BytesIO(_guide_pdf()), filename="proposal-guide.pdf", content_type="application/pdf")
    wanted = [
        training.ModuleData("Welcome to LeadFlow PM", "video", "How the portal works, in six minutes.",
                            video_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ", duration_minutes=6,
                            required_tiers=TIERS),
        training.ModuleData("Working a lead", "document", "The habits that win deals.", body=READING,
                            duration_minutes=5, required_tiers=TIERS),
        training.ModuleData("Proposal guide", "file", "A one-page guide to proposals.", duration_minutes=3,
                            required_tiers=("gold", "platinum"), upload=guide),
        training.ModuleData("Partner basics quiz", "quiz", "Three questions on what you read.", pass_mark=70,
                            duration_minutes=5, required_tiers=TIERS),
    ]  # fmt: skip
    for data in wanted:
        if data.title in existing:
            continue
        module = existing[data.title] = training.create_module(admin, data)
        for prompt, options in QUESTIONS if module.kind == "quiz" else ():
            training.add_question(admin, module, prompt, options)
    db.session.flush()
    return existing


def _take(user: User, titles=None) -> None:
    """Open and complete the modules named (default: every one required for the partner's tier)."""
    for status in progress.statuses(user):
        module = status.module
        if status.done or (module.title not in titles if titles else not status.required):
            continue
        if module.kind == "quiz":
            answers = {f"q-{q.id}": [str(i) for i in q.correct] for q in module.questions}
            progress.submit_quiz(user, module, answers)
        else:
            progress.mark_complete(user, module, progress.opened_token(user, module))


def seed() -> None:
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@demo.test"))
    if admin is None:
        return
    _modules(admin)
    for email, titles in (("cp1-manager@demo.test", None), ("cp1@demo.test", ["Welcome to LeadFlow PM"])):
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is not None and user.partner is not None:
            _take(user, titles)
