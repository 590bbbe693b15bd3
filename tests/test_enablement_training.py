"""Training with quizzes and certification (issue 20, item 6): admins author ordered modules; each member opens and
completes them, quizzes are scored on the server; passing the tier's required set certifies the member once (PDF,
verification page, team badge)."""

import io
import re
import threading

import pypdf
import sqlalchemy as sa

from app.enablement import certificates, training_progress
from app.enablement import training as authoring
from app.enablement.training import has_completed_any_module
from app.enablement.training_progress import MAX_ATTEMPTS
from app.extensions import db
from app.models import (
    AuditEvent,
    StoredFile,
    TrainingAttempt,
    TrainingCertificate,
    TrainingModule,
    TrainingProgress,
    User,
)
from tests import factories
from tests.conftest import is_postgres, login, requires_postgres


def _client(app, user):
    return login(app.test_client(), user)


def _module(admin, title, kind="document", tiers=("bronze",), **fields):
    data = authoring.ModuleData(title=title, kind=kind, required_tiers=tiers, **fields)
    if kind == "document" and "body" not in fields:
        data.body = f"About {title}."
    module = authoring.create_module(admin, data)
    db.session.commit()
    return module


def _quiz(admin, title="Product quiz", tiers=("bronze",), pass_mark=50):
    quiz = _module(admin, title, "quiz", tiers, pass_mark=pass_mark)
    authoring.add_question(admin, quiz, "Which are renewable?", "* Solar\nCoal\n* Wind")
    authoring.add_question(admin, quiz, "Is the sky blue?", "* Yes\nNo")
    db.session.commit()
    return quiz


def _answers(quiz, right=(True, True)):
    first, second = quiz.questions
    data = {f"q-{first.id}": ["0", "2"] if right[0] else ["0"], f"q-{second.id}": ["0"] if right[1] else ["1"]}
    return data


OPENED = re.compile(r'name="opened" type="hidden" value="([^"]+)"|type="hidden" name="opened" value="([^"]+)"')


def _complete(client, module, **kw):
    """Open the module's page, then mark it complete with the page's form (its signed "opened" proof)."""
    page = client.get(f"/cp/training/{module.id}").get_data(as_text=True)
    [token] = [a or b for a, b in OPENED.findall(page)]
    return client.post(f"/cp/training/{module.id}/complete", data={"opened": token}, **kw)


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# --- authoring ----------------------------------------------------------------------------------------------------


def test_an_admin_authors_each_kind_with_errors_beside_the_field(app):
    admin = factories.make_user("admin")
    db.session.commit()
    client = _client(app, admin)
    bad = client.post("/admin/training/new", data={"title": "Intro", "kind": "video", "video_url": "http://x.test/v"})
    assert bad.status_code == 422 and "https:// link" in bad.get_data(as_text=True)
    ok = client.post(
        "/admin/training/new",
        data={"title": "Intro", "kind": "video", "video_url": "https://video.test/intro", "required_tiers": ["gold"]},
    )
    assert ok.status_code == 303
    video = db.session.scalar(sa.select(TrainingModule).where(TrainingModule.title == "Intro"))
    assert video.required_tiers == ["gold"] and video.position == 1
    no_body = client.post("/admin/training/new", data={"title": "Read me", "kind": "document"})
    assert no_body.status_code == 422 and "Write the document" in no_body.get_data(as_text=True)
    no_mark = client.post("/admin/training/new", data={"title": "Quiz", "kind": "quiz", "pass_mark": ""})
    assert no_mark.status_code == 422 and "pass mark" in no_mark.get_data(as_text=True)
    script = client.post(
        "/admin/training/new",
        data={"title": "Fake PDF", "kind": "file", "upload": (io.BytesIO(b"MZ not a pdf"), "guide.pdf")},
        content_type="multipart/form-data",
    )
    assert script.status_code == 422 and _count(TrainingModule) == 1
    pdf = client.post(
        "/admin/training/new",
        data={"title": "Guide", "kind": "file", "upload": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "guide.pdf")},
        content_type="multipart/form-data",
    )
    assert pdf.status_code == 303
    guide = db.session.scalar(sa.select(TrainingModule).where(TrainingModule.title == "Guide"))
    assert guide.file.kind == "training" and guide.position == 2
    assert _count(AuditEvent, AuditEvent.action == "training.module_created") == 2


def test_questions_need_options_and_a_marked_answer_and_modules_reorder(app):
    admin = factories.make_user("admin")
    first, second = _module(admin, "First"), _module(admin, "Second")
    quiz = _module(admin, "Quiz", "quiz", pass_mark=80)
    client = _client(app, admin)
    unmarked = client.post(f"/admin/training/{quiz.id}/questions", data={"prompt": "Q?", "options": "A\nB"})
    assert unmarked.status_code == 422 and "Mark at least one correct option" in unmarked.get_data(as_text=True)
    added = client.post(
        f"/admin/training/{quiz.id}/questions",
        data={"prompt": "Q?", "options": "A\n* B"},
        headers={"HX-Request": "true"},
    )
    assert added.status_code == 200 and "Q?" in added.get_data(as_text=True)
    db.session.refresh(quiz)
    assert quiz.questions[0].options == ["A", "B"] and quiz.questions[0].correct == [1]
    moved = client.post(f"/admin/training/{quiz.id}/move", data={"direction": "up"}, headers={"HX-Request": "true"})
    assert moved.status_code == 200 and "Order saved" in moved.get_data(as_text=True)
    assert [m.title for m in authoring.modules()] == ["First", "Quiz", "Second"]
    assert client.post(f"/admin/training/{first.id}/move", data={"direction": "sideways"}).status_code == 422
    assert client.post(f"/admin/training/{second.id}/delete").status_code == 303
    assert [m.title for m in authoring.modules()] == ["First", "Quiz"]
    assert _count(AuditEvent, AuditEvent.action.in_(("training.module_moved", "training.module_deleted"))) == 2


# --- taking training -----------------------------------------------------------------------------------------------


def test_a_member_opens_before_marking_complete_and_a_document_renders_safely(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner()
    viewer = factories.make_member(partner, "viewer")
    doc = _module(admin, "Brand rules", body="**Bold** <script>alert(1)</script>\n\n- one\n- two")
    client = _client(app, viewer)
    early = client.post(f"/cp/training/{doc.id}/complete")
    assert early.status_code == 409 and not has_completed_any_module(viewer)
    # another member's proof of opening, or another module's, is not this member's
    other = _module(admin, "Other")
    for user, module in ((partner.user, doc), (viewer, other)):
        forged = {"opened": training_progress.opened_token(user, module)}
        assert client.post(f"/cp/training/{doc.id}/complete", data=forged).status_code == 409
    page = client.get(f"/cp/training/{doc.id}").get_data(as_text=True)
    assert "<strong>Bold</strong>" in page and "<script>alert" not in page and "<li>one</li>" in page
    assert _count(TrainingProgress) == 0  # opening writes nothing
    assert _complete(client, doc).status_code == 303
    assert has_completed_any_module(viewer) and not has_completed_any_module(partner.user)
    assert "Completed" in client.get(f"/cp/training/{doc.id}").get_data(as_text=True)


def test_quizzes_are_scored_on_the_server_with_limited_attempts(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner()
    quiz = _quiz(admin, pass_mark=100)
    client = _client(app, partner.user)
    first = quiz.questions[0]
    missing = client.post(f"/cp/training/{quiz.id}/quiz", data={f"q-{first.id}": ["0", "2"]})
    assert missing.status_code == 422 and "Answer question 2." in missing.get_data(as_text=True)
    # a client-sent score or verdict is ignored: only the chosen options count, and a half-right answer is wrong
    half = client.post(
        f"/cp/training/{quiz.id}/quiz",
        data={**_answers(quiz, right=(False, True)), "score": "100", "passed": "1"},
        headers={"HX-Request": "true"},
    )
    assert half.status_code == 200 and "You scored 50%" in half.get_data(as_text=True)
    attempt = db.session.scalar(sa.select(TrainingAttempt))
    assert attempt.score == 50 and not attempt.passed
    assert not has_completed_any_module(partner.user)
    for _ in range(MAX_ATTEMPTS - 1):
        client.post(f"/cp/training/{quiz.id}/quiz", data=_answers(quiz, right=(True, False)))
    spent = client.post(f"/cp/training/{quiz.id}/quiz", data=_answers(quiz))
    assert spent.status_code == 409 and "attempts for today" in spent.get_data(as_text=True)
    assert _count(TrainingAttempt) == MAX_ATTEMPTS


def test_passing_the_required_set_certifies_once_with_a_pdf_a_verification_page_and_a_badge(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Ødegaard Solar")
    member = factories.make_member(partner, "viewer", name="Zoë Member")
    doc = _module(admin, "Brand rules")
    _module(admin, "Gold only", tiers=("gold",))  # not required for bronze: the certificate does not wait for it
    quiz = _quiz(admin)
    client = _client(app, member)
    assert _complete(client, doc).status_code == 303
    assert certificates.certificate_for(member) is None
    passed = client.post(f"/cp/training/{quiz.id}/quiz", data=_answers(quiz), headers={"HX-Request": "true"})
    assert "You passed" in passed.get_data(as_text=True) and "Certified" in passed.get_data(as_text=True)
    certificate = certificates.certificate_for(member)
    assert certificate is not None and certificate.tier == "bronze"
    assert certificates.issue_if_due(member) is None and _count(TrainingCertificate) == 1  # issued once

    pdf = client.get("/cp/training/certificate.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Zoë Member" in text and "Ødegaard Solar" in text and certificate.code in text
    [verify_path] = re.findall(r"https?://[^/\s]+(/cp/training/verify/\S+)", text)
    verified = app.test_client().get(verify_path)  # anyone may check a certificate
    assert verified.status_code == 200 and "Zoë Member" in verified.get_data(as_text=True)
    assert app.test_client().get("/cp/training/verify/LF-NOTACODE").status_code == 404

    # only the member downloads it; the owner sees the team's progress and the badge on the team page
    assert _client(app, partner.user).get("/cp/training/certificate.pdf").status_code == 404
    owner_view = _client(app, partner.user).get("/cp/training").get_data(as_text=True)
    assert "Your team's progress" in owner_view and "2 of 2" in owner_view
    team = _client(app, partner.user).get("/cp/team").get_data(as_text=True)
    assert re.search(r"Zoë Member.{0,200}Certified", team, re.S)
    assert "Your team's progress" not in client.get("/cp/training").get_data(as_text=True)


def test_a_training_file_is_served_to_members_and_nothing_else_is(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner()
    data = authoring.ModuleData(title="Guide", kind="file", upload=None)
    from werkzeug.datastructures import FileStorage

    data.upload = FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="guide.pdf", content_type="application/pdf")
    guide = authoring.create_module(admin, data)
    doc = _module(admin, "Doc")
    db.session.commit()
    client = _client(app, partner.user)
    served = client.get(f"/cp/training/{guide.id}/file")
    assert served.status_code == 200 and served.data.startswith(b"%PDF")
    assert client.get(f"/cp/training/{doc.id}/file").status_code == 404
    assert client.get(f"/files/{guide.file.id}").status_code in (403, 404)  # only through the module's route


def test_editing_a_file_module_keeps_replaces_or_drops_its_file(app):
    admin = factories.make_user("admin")
    db.session.commit()
    client = _client(app, admin)

    def post(path, **extra):
        form = {"title": "Guide", "kind": "file", **extra}
        return client.post(path, data=form, content_type="multipart/form-data")

    assert post("/admin/training/new", upload=(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "one.pdf")).status_code == 303
    guide = db.session.scalar(sa.select(TrainingModule))
    first_file = guide.file_id
    assert post(f"/admin/training/{guide.id}", summary="kept").status_code == 303  # no new file: the old one stays
    db.session.refresh(guide)
    assert guide.file_id == first_file and guide.summary == "kept"
    assert post(f"/admin/training/{guide.id}", upload=(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "two.pdf")).status_code == 303
    db.session.refresh(guide)
    assert guide.file.original_name == "two.pdf" and db.session.get(StoredFile, first_file) is None
    changed = client.post(f"/admin/training/{guide.id}", data={"title": "Guide", "kind": "document", "body": "Read."})
    assert changed.status_code == 303
    db.session.refresh(guide)
    assert guide.kind == "document" and guide.file_id is None and _count(StoredFile) == 0


def test_a_partner_sees_only_its_own_team_progress(app):
    admin = factories.make_user("admin")
    doc = _module(admin, "Doc")
    mine, theirs = factories.make_partner(company="Mine"), factories.make_partner(company="Theirs")
    stranger = factories.make_member(theirs, "manager", name="Stranger Danger")
    db.session.commit()
    progress = TrainingProgress(module_id=doc.id, user_id=stranger.id, partner_id=theirs.id)
    db.session.add(progress)
    db.session.commit()
    page = _client(app, mine.user).get("/cp/training").get_data(as_text=True)
    assert "Stranger Danger" not in page
    assert [m.user_id for m, *_ in certificates.team_progress(theirs)] == [theirs.user.id, stranger.id]


# --- races ---------------------------------------------------------------------------------------------------------


def _race(app, user, posts):
    """POST each (path, form) at the same moment from its own client (threads on PostgreSQL)."""
    clients = [_client(app, user) for _ in posts]
    db.session.remove()
    start, answers, errors = threading.Barrier(len(posts)), [None] * len(posts), []

    def send(i):
        try:
            start.wait()
            answers[i] = clients[i].post(posts[i][0], data=posts[i][1])
        except Exception as exc:  # noqa: BLE001  (a view's exception is a 500)
            errors.append(repr(exc))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return answers


def _ready(app, partner, modules, role=None):
    """A member who opened every module and completed all but the last two, with the proofs of opening those two."""
    user = partner.user if role is None else factories.make_member(partner, role)
    db.session.commit()
    client = _client(app, user)
    for module in modules[:-2]:
        assert _complete(client, module).status_code == 303
    return user, [{"opened": training_progress.opened_token(user, m)} for m in modules[-2:]]


@requires_postgres
def test_two_racing_last_completions_issue_exactly_one_certificate(app):
    assert is_postgres()
    admin = factories.make_user("admin")
    partner = factories.make_partner()
    modules = [_module(admin, f"Module {n}") for n in range(4)]
    racers = [_ready(app, partner, modules)] + [_ready(app, partner, modules, "viewer") for _ in range(3)]
    ids, proofs = [user.id for user, _ in racers], [proof for _, proof in racers]
    last_two = [f"/cp/training/{m.id}/complete" for m in modules[-2:]]
    # the two last modules at the same moment (several members, to meet the race): the later one must see the
    # other's completion and certify
    for user_id, proof in zip(ids[:-1], proofs, strict=False):
        posts = list(zip(last_two, proof, strict=True))
        assert [a.status_code for a in _race(app, db.session.get(User, user_id), posts)] == [303, 303]
    # the next-to-last, then the last one sent twice at once: certified once
    last = db.session.get(User, ids[-1])
    assert _client(app, last).post(last_two[0], data=proofs[-1][0]).status_code == 303
    assert [a.status_code for a in _race(app, last, [(last_two[1], proofs[-1][1])] * 2)] == [303, 303]
    done = TrainingProgress.completed_at.is_not(None)
    for user_id in ids:
        assert _count(TrainingCertificate, TrainingCertificate.user_id == user_id) == 1
        assert _count(TrainingProgress, TrainingProgress.user_id == user_id, done) == 4
    assert _count(AuditEvent, AuditEvent.action == "training.certified") == len(ids)


def test_the_demo_seeds_training_once_and_certifies_the_manager(app):
    from app.demo import people, team
    from app.demo import training as demo_training

    for _ in range(2):
        for module in (people, team, demo_training):
            module.seed()
            db.session.commit()
    assert _count(TrainingModule) == 4 and _count(TrainingCertificate) == 1
    manager = db.session.scalar(sa.select(User).where(User.email == "cp1-manager@demo.test"))
    assert certificates.certificate_for(manager) is not None
    guide = db.session.scalar(sa.select(TrainingModule).where(TrainingModule.kind == "file"))
    assert guide.file is not None and guide.file.content_type == "application/pdf"
