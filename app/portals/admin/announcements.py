"""Announcements: compose (all CPs or chosen ones, optional email), the sent list with read counts, detail."""

from flask import flash, request, url_for
from flask_login import current_user
from wtforms import BooleanField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.comms import announcements
from app.extensions import db
from app.idempotency import IdempotentForm
from app.loaders import get_or_404
from app.models import Announcement
from app.portals.admin import bp
from app.validators import query_page
from app.web import htmx_redirect, render

MESSAGE_HELP = "Blank line: new paragraph. Start lines with “- ” for a list. **bold**, *italic*, [label](https://link)."


class AnnouncementForm(IdempotentForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    content = TextAreaField("Message", validators=[DataRequired(), Length(max=20000)])
    target = RadioField(
        "Send to",
        choices=[("all", "All approved channel partners"), ("specific", "Chosen channel partners")],
        default="all",
        validators=[DataRequired()],
    )
    partners = SelectMultipleField("Channel partners", choices=[], validate_choice=True)
    send_email = BooleanField("Send email too")

    def validate_partners(self, field):
        if self.target.data == "specific" and not field.data:
            raise ValidationError("Choose at least one channel partner.")


def _form():
    form = AnnouncementForm()
    form.partners.choices = [(str(p.id), p.company_name) for p in announcements.approved_partners()]
    return form


def _compose(form, status=200):
    return render(
        "admin/announcements/new.html", partial="admin/announcements/partials/_form.html", form=form, status=status
    )


@bp.get("/announcements", endpoint="announcements")
def announcements_page():
    pagination = announcements.page(query_page(request.args))
    counts = announcements.read_counts(a.id for a in pagination.items)
    return render(
        "admin/announcements/page.html",
        partial="admin/announcements/partials/_table.html",
        pagination=pagination,
        counts=counts,
    )


@bp.route("/announcements/new", methods=["GET", "POST"])
def announcement_new():
    form = _form()
    if request.method == "GET":
        return _compose(form)
    if not form.validate():
        return _compose(form, 422)
    chosen = form.partners.data if form.target.data == "specific" else None
    try:
        item = announcements.send(current_user, form.title.data, form.content.data, chosen, form.send_email.data)
    except announcements.AnnouncementError as exc:
        db.session.rollback()
        form.partners.errors = [*form.partners.errors, str(exc)]
        return _compose(form, 422)
    db.session.commit()
    flash("Announcement sent to its channel partners.", "success")
    target = url_for("admin.announcement_detail", announcement_id=item.id)
    return htmx_redirect(target)


@bp.get("/announcements/<announcement_id>")
def announcement_detail(announcement_id):
    item = get_or_404(Announcement, announcement_id)
    rows = announcements.delivery_rows(item)
    return render(
        "admin/announcements/detail.html",
        announcement=item,
        rows=rows,
        read=sum(1 for _u, _p, n in rows if n.is_read),
    )
