"""The notification pages: list, mark read, read all, the bell's dropdown and badge, email and SMS preferences."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, TelField
from wtforms.validators import Length, Optional

from app.access import ANY_USER, roles
from app.comms import announcements, notifications, sms
from app.extensions import db
from app.loaders import get_or_404, load_notification
from app.models import Announcement
from app.notifications import bp
from app.validators import query_page
from app.web import is_htmx_partial, render
from app.web.actions import run_action

PAGE_SIZE = 20
DROPDOWN_SIZE = 6


def badge_html(oob: bool = True) -> str:
    """The bell's badge, re-read from the database; out-of-band for appending to an action's response."""
    return render_template("_partials/badge.html", unread=notifications.unread_count(current_user), oob=oob)


def with_badge(response):
    """Append the badge out-of-band to an HTMX response, so the bell follows the action."""
    response.set_data(response.get_data(as_text=True) + badge_html())
    return response


def safe_link(link: str | None) -> str | None:
    """Only a path inside the app (never //host or a scheme) is followed."""
    if link and link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return link
    return None


def _list_context():
    show = "unread" if request.args.get("show") == "unread" else "all"
    page = query_page(request.args)
    pagination = notifications.page_for(current_user, page, PAGE_SIZE, unread_only=show == "unread")
    return {"pagination": pagination, "show": show}


@bp.get("/notifications")
@roles(*ANY_USER)
def index():
    return render("notifications/page.html", partial="notifications/partials/_list.html", **_list_context())


@bp.post("/notifications/<notification_id>/read")
@roles(*ANY_USER)
def read(notification_id):
    """Mark one read. From the list (HTMX) the row is swapped; "open" then goes to what it refers to."""
    notification = load_notification(notification_id)
    notifications.mark_read(notification)
    db.session.commit()
    if request.form.get("open"):
        return redirect(safe_link(notification.link) or url_for("notifications.index"))
    if is_htmx_partial():
        return with_badge(make_response(render_template("notifications/partials/_item.html", n=notification)))
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/read-all")
@roles(*ANY_USER)
def read_all():
    changed = notifications.mark_all_read(current_user)
    db.session.commit()
    if is_htmx_partial():
        response = make_response(render_template("notifications/partials/_list.html", **_list_context()))
        return with_badge(response)
    flash(f"{changed} notification{'s' if changed != 1 else ''} marked as read.", "success")
    return redirect(url_for("notifications.index"))


@bp.get("/notifications/dropdown")
@roles(*ANY_USER)
def dropdown():
    latest = notifications.latest(current_user, DROPDOWN_SIZE)
    response = render("notifications/dropdown.html", partial="notifications/partials/_dropdown.html", latest=latest)
    return with_badge(response) if is_htmx_partial() else response


@bp.get("/notifications/badge")
@roles(*ANY_USER)
def badge():
    """The badge alone (the polling fallback swaps it in); a small page when opened directly."""
    unread = notifications.unread_count(current_user)
    return render("notifications/badge.html", partial="_partials/badge.html", unread=unread, oob=False)


def preferences_form(user):
    """One checkbox per email this user's role can receive (ticked unless muted); the SMS number, opt-in and one
    checkbox per event (ticked when chosen). Fields: the event key for email, sms_<key> for a text."""

    class PreferencesForm(FlaskForm):
        phone = TelField("Mobile number", default=user.phone, validators=[Optional(), Length(max=30)], filters=[_strip])
        sms_opt_in = BooleanField("Send me text messages (SMS)", default=user.sms_opt_in)

    muted = set(user.email_muted_events or [])
    for key, label in notifications.email_events_for(user):
        setattr(PreferencesForm, key, BooleanField(f"Email me: {label}", default=key not in muted))
    chosen = set(user.sms_events or [])
    for key, label in sms.events_for(user):
        setattr(PreferencesForm, f"sms_{key}", BooleanField(f"Text me: {label}", default=key in chosen))
    return PreferencesForm()


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _preferences_page(form, status=200):
    return render(
        "notifications/preferences.html",
        form=form,
        events=notifications.email_events_for(current_user),
        sms_events=sms.events_for(current_user),
        status=status,
    )


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@roles(*ANY_USER)
def preferences():
    form = preferences_form(current_user)
    if request.method == "GET":
        return _preferences_page(form)

    def save(f):
        emails = {key for key, _label in notifications.email_events_for(current_user) if f[key].data}
        texts = {key for key, _label in sms.events_for(current_user) if f[f"sms_{key}"].data}
        notifications.set_email_preferences(current_user, emails)
        sms.set_preferences(current_user, f.phone.data, f.sms_opt_in.data, texts, actor=current_user)

    def answer(outcome):
        if not outcome.ok:
            return _preferences_page(form, outcome.status)
        flash("Notification preferences saved. In-app notifications always stay on.", "success")
        return redirect(url_for("notifications.preferences"))

    return run_action(form, save, answer)


@bp.get("/notifications/announcements/<announcement_id>")
@roles(*ANY_USER)
def announcement(announcement_id):
    """The full message of an announcement, for a CP it was sent to (404 for any other CP) and for staff."""
    item = get_or_404(Announcement, announcement_id)
    if not announcements.can_view(current_user, item):
        abort(404)
    return render("notifications/announcement.html", announcement=item)
