"""Training records for the route walk: a quiz with a question, a file module, and cp's certificate."""

from app.extensions import db
from app.files import storage
from app.models import TrainingCertificate, TrainingModule, TrainingQuestion


def add(world):
    cp, admin = world["partners"]["cp"], world["users"]["admin"]
    quiz = TrainingModule(title="World quiz", kind="quiz", position=1, pass_mark=50, required_tiers=["bronze"])
    quiz.questions = [TrainingQuestion(prompt="Pick A", options=["A", "B"], correct=[0], position=1)]
    guide_file = storage.save_bytes(b"%PDF-1.4\n%%EOF\n", "training", "guide.pdf", "application/pdf", actor=admin)
    guide = TrainingModule(title="World guide", kind="file", position=2, file_id=guide_file.id, required_tiers=[])
    certificate = TrainingCertificate(user_id=cp.user.id, partner_id=cp.id, code="LF-WORLDCODE", tier="bronze")
    db.session.add_all([quiz, guide, certificate])
    db.session.flush()
    world["ids"].update(
        training_quiz=quiz.id,
        training_question=quiz.questions[0].id,
        training_file=guide.id,
        training_code=certificate.code,
    )
