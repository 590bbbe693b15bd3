"""Permission rows for files, account, categories, CP profile, customer view and partner profiles."""

from tests.access_table import admin_only, cp_only, expect, logged_in, owner_only, super_only

ROUTES = {
    # --- files and account (shared blueprints) --------------------------------------------------
    "GET files.download": ("/files/{evidence_file}", expect(cp=200, other=404, admin=200, super=200)),
    "POST files.presign": ("/files/presign", logged_in(422)),
    "POST files.confirm": ("/files/{evidence_file}/confirm", logged_in(404)),
    "GET account.settings": ("/account", logged_in(200)),
    "POST account.settings": ("/account", logged_in(422)),
}

ROUTES.update(
    {
        # --- admin categories ---------------------------------------------------------------------
        "GET admin.categories": ("/admin/categories", admin_only()),
        "POST admin.category_create": ("/admin/categories", admin_only(422)),
        "GET admin.category_detail": ("/admin/categories/{category}", admin_only()),
        "GET admin.category_edit": ("/admin/categories/{category}/edit", admin_only()),
        "GET admin.category_row": ("/admin/categories/{category}/row", admin_only()),
        "POST admin.category_update": ("/admin/categories/{category}", admin_only(422)),
        "POST admin.category_toggle": ("/admin/categories/{category}/toggle", admin_only(302)),
        "POST admin.category_move": ("/admin/categories/{category}/move", admin_only(422)),
        "POST admin.category_delete": ("/admin/categories/{category}/delete", admin_only(409)),
        "POST admin.category_image_add": ("/admin/categories/{category}/images", admin_only(422)),
        "POST admin.category_image_remove": (
            "/admin/categories/{category}/images/{category_image}/remove",
            admin_only(302),
        ),
        "POST admin.category_image_move": (
            "/admin/categories/{category}/images/{category_image}/move",
            admin_only(422),
        ),
        "POST admin.content_review": ("/admin/categories/content/{content}/review", admin_only(422)),
        # --- CP: profile, content, customer view, originated leads ------------------------------
        "GET cp.profile": ("/cp/profile", cp_only()),
        "POST cp.profile_company": ("/cp/profile/company", owner_only(422)),
        "POST cp.profile_bank": ("/cp/profile/bank", owner_only(422)),
        "POST cp.profile_logo": ("/cp/profile/logo", owner_only(422)),
        "POST cp.content_save": ("/cp/profile/content/{category}", cp_only(422)),
        # the manager comes after the owner, who already submitted it (409) or removed the image (404)
        "POST cp.content_submit": ("/cp/profile/content/{content}/submit", expect(cp=302, other=404, manager=409)),
        "POST cp.content_image_add": ("/cp/profile/content/{content}/images", cp_only(422, other=404)),
        "POST cp.content_image_remove": (
            "/cp/profile/content/{content}/images/{content_image}/remove",
            expect(cp=302, other=404, manager=404),
        ),
        "GET cp.categories": ("/cp/categories", cp_only()),
        "GET cp.category_lead": ("/cp/categories/{category}/lead", expect(cp=200, viewer=403)),
        "POST cp.category_lead_submit": ("/cp/categories/{category}/lead", cp_only(422)),
        "GET cp.leads_originated": ("/cp/leads/originated", cp_only()),
    }
)

ROUTES.update(
    {
        "GET superadmin.partners": ("/super/partners", super_only()),
        "GET superadmin.partner_detail": ("/super/partners/{partner}", super_only()),
    }
)
