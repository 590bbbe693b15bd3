"""/account: any logged-in user's own settings (the avatar shown in the header); /account/security in security.py."""

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from app.access import ANY_USER, roles
from app.extensions import db
from app.files import storage
from app.files.checks import accept_attribute
from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.partners import profiles
from app.portals import load_sections
from app.web import render

bp = Blueprint("account", __name__)


class AvatarForm(IdempotentForm):
    avatar = DirectFileField("Avatar (JPEG, PNG or WebP)", kind="avatar")


def _page(form, status=200):
    return render("account/page.html", form=form, accept=accept_attribute(("image",)), status=status)


@bp.route("/account", methods=["GET", "POST"], endpoint="settings")
@roles(*ANY_USER)
def settings():
    form = AvatarForm()
    if request.method == "GET":
        return _page(form)
    if not form.validate():
        return _page(form, 422)
    if request.form.get("action") == "remove":
        profiles.remove_avatar(current_user, actor=current_user)
        message = "Avatar removed; your initials are shown instead."
    else:
        try:
            profiles.set_avatar(current_user, form.avatar.data, actor=current_user)
        except storage.UploadRejected as exc:
            db.session.rollback()
            form.avatar.errors = [str(exc)]
            return _page(form, 422)
        message = "Avatar updated."
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("account.settings"))


load_sections(__name__, __path__)  # security: MFA and sessions, on this blueprint
