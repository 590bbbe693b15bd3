"""Training (/cp/training): each member takes the modules in order, marks them complete or passes their quizzes, and
downloads the certificate; the owner also sees the team's progress. Every member (viewers too) takes training, so
its actions admit all member roles. The certificate's verification page is public. Rules: app/enablement/."""

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user
from wtforms import HiddenField

from app.access import ANY_MEMBER, OWNER, members, public
from app.comms.announcements import render_message
from app.enablement import certificates
from app.enablement import training_progress as progress
from app.files import send_stored_file
from app.idempotency import IdempotentForm
from app.loaders import get_or_404
from app.models import TrainingModule
from app.portals.cp import bp
from app.web import is_htmx_partial, render
from app.web.actions import run_action


class CompleteForm(IdempotentForm):
    """Marking a module complete: sent twice, it completes (and certifies) once. `opened` proves the page was seen."""

    opened = HiddenField("Opened")


class QuizForm(IdempotentForm):
    """The quiz's answers are read from the request by question (q-<id>), then scored by the service."""


@bp.app_template_global("training_certified_ids")
def training_certified_ids(partner) -> set:
    """The team page's badges: ids of the partner's certified members (one query per page)."""
    return certificates.certified_user_ids(partner) if partner is not None else set()


@bp.get("/training")
def training():
    partner = current_user.partner
    rows = progress.statuses(current_user)
    required = [r for r in rows if r.required]
    return render(
        "cp/training/page.html",
        rows=rows,
        required_done=sum(1 for r in required if r.done),
        required_total=len(required),
        partner=partner,
        certificate=certificates.certificate_for(current_user),
        team=certificates.team_progress(partner) if current_user.member_role == OWNER else None,
    )


def _blank_form(module):
    if module.kind == "quiz":
        return QuizForm(formdata=None)
    return CompleteForm(formdata=None, opened=progress.opened_token(current_user, module))


def _module_page(module, status=200, form=None, message=None, chosen=None, question_errors=None):
    row = progress.status(current_user, module)
    return render(
        "cp/training/module.html",
        partial="cp/training/partials/_take.html",
        status=status,
        module=module,
        row=row,
        form=form or _blank_form(module),
        message=message,
        chosen=chosen or {},
        question_errors=question_errors or {},
        body=render_message(module.body) if module.kind == "document" else None,
        attempt=progress.last_attempt(current_user, module) if module.kind == "quiz" else None,
        attempts_left=progress.attempts_left(current_user, module) if module.kind == "quiz" else None,
        certificate=certificates.certificate_for(current_user),
    )


@bp.get("/training/<module_id>")
def training_module(module_id):
    return _module_page(get_or_404(TrainingModule, module_id))


def _answer(module, form, success, chosen=None):
    def answer(outcome):
        message = success(outcome.result) if outcome.ok else (str(outcome.error) if outcome.error else None)
        if outcome.ok and not is_htmx_partial():
            flash(message, "success")
            return redirect(url_for("cp.training_module", module_id=module.id), code=303)
        errors = getattr(outcome.error, "errors", None)
        # a refused form is shown afresh (a new proof of opening, a new key); one that did not validate keeps its errors
        return _module_page(module, outcome.status, form if outcome.invalid else None, message, chosen, errors)

    return answer


@bp.post("/training/<module_id>/complete")
@members(*ANY_MEMBER)
def training_complete(module_id):
    module = get_or_404(TrainingModule, module_id)
    form = CompleteForm()
    operation = lambda f: progress.mark_complete(current_user, module, f.opened.data)  # noqa: E731
    return run_action(form, operation, _answer(module, form, lambda cert: "Module complete."))


def _quiz_message(module):
    def message(attempt) -> str:
        verdict = "You passed." if attempt.passed else "Not passed yet: review the module and try again."
        return f"You scored {attempt.score}% (pass mark {module.pass_mark}%). {verdict}"

    return message


@bp.post("/training/<module_id>/quiz")
@members(*ANY_MEMBER)
def training_quiz(module_id):
    module = get_or_404(TrainingModule, module_id)
    form = QuizForm()
    answers = {key: request.form.getlist(key)[:20] for key in request.form if key.startswith("q-")}
    chosen = {key: set(values) for key, values in answers.items()}

    operation = lambda f: progress.submit_quiz(current_user, module, answers)  # noqa: E731
    return run_action(form, operation, _answer(module, form, _quiz_message(module), chosen))


@bp.get("/training/<module_id>/file")
def training_file(module_id):
    module = get_or_404(TrainingModule, module_id)
    if module.kind != "file" or module.file is None:
        abort(404)
    return send_stored_file(module.file)


@bp.get("/training/certificate.pdf")
def training_certificate():
    certificate = certificates.certificate_for(current_user)
    if certificate is None:
        abort(404)
    verify_url = url_for("cp.training_verify", code=certificate.code, _external=True)
    pdf = certificates.certificate_pdf(certificate, verify_url)
    disposition = f'attachment; filename="training-certificate-{certificate.code}.pdf"'
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": disposition})


@bp.get("/training/verify/<code>")
@public
def training_verify(code):
    certificate = certificates.by_code(code)
    if certificate is None:
        abort(404)
    return render("cp/training/verify.html", certificate=certificate)
