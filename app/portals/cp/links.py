"""Referral links (SPEC 9.2): the partner's link, a UTM link builder per category, and what each source brought.

Every member may see it (all GET). The builder is a GET form: live with HTMX (the link partial), and a plain
submit without JavaScript renders the same page with the link filled in.
"""

from urllib.parse import urlencode

from flask import current_app, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from app.leads import referrals
from app.portals.cp import bp
from app.portals.public import public_categories
from app.web import render

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


class LinkBuilderForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    category = SelectField("Category", choices=[], validate_choice=False)
    utm_source = StringField("Source (utm_source)", validators=[Optional(), Length(max=100)])
    utm_medium = StringField("Medium (utm_medium)", validators=[Optional(), Length(max=100)])
    utm_campaign = StringField("Campaign (utm_campaign)", validators=[Optional(), Length(max=100)])


def referral_url(code: str, slug: str | None = None, **utm) -> str:
    """The absolute link to share: PUBLIC_BASE_URL + /r/<code>, with the category and UTM tags that are set."""
    params = {"category": slug, **utm}
    query = urlencode({k: v.strip() for k, v in params.items() if v and v.strip()})
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}{url_for('public.referral', code=code)}" + (f"?{query}" if query else "")


@bp.get("/links")
def links():
    partner = current_user.partner
    categories = public_categories()
    form = LinkBuilderForm(formdata=request.args or None)
    form.category.choices = [("", "Any category (the list)"), *((c.slug, c.name) for c in categories)]
    valid = form.validate() if request.args else True
    slugs = {c.slug for c in categories}
    slug = form.category.data if form.category.data in slugs else None
    built = referral_url(partner.code, slug, **{name: form[name].data for name in UTM_FIELDS}) if valid else None
    return render(
        "cp/links/page.html",
        partial="cp/links/partials/_link.html",
        status=200 if valid else 422,
        form=form,
        built=built,
        partner=partner,
        category_links=[(c, referral_url(partner.code, c.slug)) for c in categories],
        general_link=referral_url(partner.code),
        stats=referrals.stats(partner),
        days=referrals.STATS_DAYS,
    )
