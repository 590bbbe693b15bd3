"""/account/security: two-factor authentication (enrol, confirm, recovery codes, turn off) and the active sessions.

The MFA forms are plain posts answered with the whole page: recovery codes are shown once, in the answer to the
post that made them, and never stored anywhere a later page could read them. Ending a session is an HTMX action
that swaps the sessions card (or redirects back without JavaScript).
"""

import segno
from flask import abort, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.access import ANY_USER, MFA_SESSION_KEY, roles
from app.account import bp
from app.accounts import mfa, security, throttle
from app.extensions import db
from app.web import htmx_redirect, is_htmx_partial, render
from app.web.actions import Outcome, run_action

PAGE = "account/security.html"
MFA_PARTIAL = "account/partials/_security_mfa.html"
SESSIONS_PARTIAL = "account/partials/_security_sessions.html"


class ActionForm(FlaskForm):
    """A button: nothing but the CSRF token."""


class CodeForm(FlaskForm):
    code = StringField("Code from your authenticator app", validators=[DataRequired(), Length(max=64)])


class DisableForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=128)])
    code = StringField("Code from your app, or a recovery code", validators=[DataRequired(), Length(max=64)])


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code, drawn here: no script, no outside service sees the secret."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", svgclass="mfa-qr", title="QR code for your authenticator app"
    )
    # segno's output: the QR's path data and our own constant title; the URI (with the email) is only encoded in paths
    return Markup(svg)  # noqa: S704  # nosec B704


def _context(**extra) -> dict:
    user = current_user._get_current_object()
    credential = mfa.credential(user)
    pending = credential is not None and not credential.enabled
    current = g.get("user_session")
    context = {
        "credential": credential,
        "required": mfa.required_for(user),
        "codes_left": mfa.recovery_codes_left(user) if credential is not None and credential.enabled else 0,
        "qr": qr_svg(mfa.provisioning_uri(user, credential.secret)) if pending else None,
        "secret": credential.secret if pending else None,
        "sessions": security.active_sessions(user),
        "this_session": current.id if current is not None else None,
        "describe_device": security.describe_device,
        "start_form": ActionForm(prefix="start"),
        "confirm_form": CodeForm(prefix="confirm"),
        "regenerate_form": CodeForm(prefix="regenerate"),
        "disable_form": DisableForm(prefix="disable"),
        "action_form": ActionForm(),
        "recovery_codes": None,
        "mfa_error": None,
        "sessions_message": None,
    }
    context.update(extra)
    return context


def _mfa_page(status: int = 200, **extra):
    return render(PAGE, partial=MFA_PARTIAL, status=status, **_context(**extra))


def _back_to_page():
    return redirect(url_for("account.security"), 303)


@bp.get("/account/security", endpoint="security")
@roles(*ANY_USER)
def security_page():
    return render(PAGE, **_context())


def _mfa_answer(form_name: str, success):
    """The answer of an MFA form: its refusal beside its fields (or above them), else `success(outcome)`."""

    def answer(outcome: Outcome):
        if outcome.ok:
            return success(outcome)
        error = outcome.error
        # A refusal about a field the form has is shown beside it (app/web/actions.attach_error); others above.
        message = str(error) if error is not None and (not error.field or error.field not in outcome.form) else None
        return _mfa_page(outcome.status, **{form_name: outcome.form, "mfa_error": message})

    return answer


def _with_a_code(form, form_name: str, operation, success):
    """Validate, count the attempt against the MFA limits (a code can be guessed here as at login), then act."""
    if not form.validate():
        return _mfa_page(422, **{form_name: form})
    verdict = throttle.login_throttle().attempt(mfa.throttle_buckets(current_user.id, request.remote_addr))
    if not verdict.allowed:
        response = _mfa_page(
            429, **{form_name: form, "mfa_error": "Too many codes tried. Wait a minute and try again."}
        )
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    return run_action(form, operation, _mfa_answer(form_name, success), validate=lambda: True)


def _show_codes(outcome: Outcome):
    session[MFA_SESSION_KEY] = True  # this browser proved it has the second factor
    return _mfa_page(200, recovery_codes=outcome.result)


@bp.post("/account/security/mfa/start", endpoint="security_mfa_start")
@roles(*ANY_USER)
def security_mfa_start():
    form = ActionForm(prefix="start")
    user = current_user._get_current_object()
    return run_action(
        form,
        lambda _form: mfa.start_enrolment(user),
        _mfa_answer("start_form", lambda _outcome: _mfa_page() if is_htmx_partial() else _back_to_page()),
    )


@bp.post("/account/security/mfa/cancel", endpoint="security_mfa_cancel")
@roles(*ANY_USER)
def security_mfa_cancel():
    user = current_user._get_current_object()
    return run_action(
        ActionForm(),
        lambda _form: mfa.cancel_enrolment(user),
        _mfa_answer("action_form", lambda _outcome: _mfa_page() if is_htmx_partial() else _back_to_page()),
    )


@bp.post("/account/security/mfa/confirm", endpoint="security_mfa_confirm")
@roles(*ANY_USER)
def security_mfa_confirm():
    user = current_user._get_current_object()
    form = CodeForm(prefix="confirm")
    return _with_a_code(form, "confirm_form", lambda f: mfa.confirm_enrolment(user, f.code.data), _show_codes)


@bp.post("/account/security/recovery-codes", endpoint="security_recovery_codes")
@roles(*ANY_USER)
def security_recovery_codes():
    user = current_user._get_current_object()
    form = CodeForm(prefix="regenerate")
    return _with_a_code(
        form, "regenerate_form", lambda f: mfa.regenerate_recovery_codes(user, f.code.data), _show_codes
    )


def _disabled(_outcome: Outcome):
    session.pop(MFA_SESSION_KEY, None)
    if is_htmx_partial():
        return _mfa_page(200, mfa_error=None)
    flash("Two-factor authentication is off.", "success")
    return _back_to_page()


@bp.post("/account/security/mfa/disable", endpoint="security_mfa_disable")
@roles(*ANY_USER)
def security_mfa_disable():
    user = current_user._get_current_object()
    form = DisableForm(prefix="disable")
    return _with_a_code(form, "disable_form", lambda f: mfa.disable(user, f.password.data, f.code.data), _disabled)


# --- sessions ----------------------------------------------------------------------------------------------------


def _sessions_answer(message: str):
    if is_htmx_partial():
        return render(PAGE, partial=SESSIONS_PARTIAL, **_context(sessions_message=message))
    flash(message, "success")
    return _back_to_page()


@bp.post("/account/security/sessions/<uuid:session_id>/end", endpoint="security_session_end")
@roles(*ANY_USER)
def security_session_end(session_id):
    user = current_user._get_current_object()
    row = security.own_session(user, session_id)
    if row is None:
        abort(404)  # another user's session is as unknown as a made-up id
    current = g.get("user_session")
    security.end_session(user, row)
    db.session.commit()
    if current is not None and current.id == row.id:  # this browser's own session: that is logging out
        logout_user()
        session.clear()
        flash("You have been logged out.", "info")
        return htmx_redirect(url_for("auth.login"))
    return _sessions_answer(f"The session of {security.describe_device(row.user_agent)} has ended.")


@bp.post("/account/security/sessions/end-others", endpoint="security_sessions_end_others")
@roles(*ANY_USER)
def security_sessions_end_others():
    user = current_user._get_current_object()
    current = g.get("user_session")
    ended = security.end_other_sessions(user, keep=current.id if current is not None else None)
    db.session.commit()
    return _sessions_answer(
        f"{ended} other session{'s' if ended != 1 else ''} ended." if ended else "No other session was open."
    )
