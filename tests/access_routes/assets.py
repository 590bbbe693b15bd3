"""The marketing asset library (issue 20 item 5): every member of an approved partner browses and downloads
(the world's flyer is for every tier, so the other partner sees it too: assets are shared like the catalogue);
admins manage."""

from tests.access_table import admin_only, cp_only

ASSET = "/assets/{asset}"

ROUTES = {
    "GET cp.assets_page": ("/cp/assets", cp_only()),
    "GET cp.asset_thumbnail": ("/cp" + ASSET + "/thumbnail", cp_only()),
    "GET cp.asset_download": ("/cp" + ASSET + "/download", cp_only()),
    "GET cp.asset_cobranded": ("/cp" + ASSET + "/cobranded.pdf", cp_only()),
    "GET admin.assets_admin": ("/admin/assets", admin_only()),
    "POST admin.asset_create": ("/admin/assets", admin_only(422)),
    "GET admin.asset_detail": ("/admin" + ASSET, admin_only()),
    "POST admin.asset_update": ("/admin" + ASSET, admin_only(422)),
    "POST admin.asset_status": ("/admin" + ASSET + "/status", admin_only(422)),
}
