"""The marketing asset library (issue 20 item 5): admin uploads, metadata stripping, thumbnails, tier gating,
filters, counted downloads and co-branded PDFs, all through the app as its users do."""

import io
import threading

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from pypdf import PdfReader

from app.extensions import db
from app.files import storage
from app.models import AuditEvent, StoredFile
from app.models.assets import AssetDownload, MarketingAsset
from app.partners import profiles
from tests import factories
from tests.conftest import login, make_app, requires_postgres
from tests.storage_support import pdf_bytes, png_bytes

HX = {"HX-Request": "true"}
MULTIPART = "multipart/form-data"


def gps_jpeg(size=(40, 20)) -> bytes:
    """A JPEG carrying a camera make, an orientation (rotate 90°) and a GPS position in its EXIF."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CameraCo"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def admin_client(app):
    admin = factories.make_user("admin")
    db.session.commit()
    return admin, login(app.test_client(), admin)


def partner_client(app, **kw):
    partner = factories.make_partner(**kw)
    db.session.commit()
    return partner, login(app.test_client(), partner.user)


def upload(client, data: bytes, name: str, **fields):
    form = {"title": "Spring flyer", "asset_type": "flyer", "min_tier": "bronze", "category_id": "", **fields}
    form["file"] = (io.BytesIO(data), name)
    return client.post("/admin/assets", data=form, content_type=MULTIPART)


def only_asset(title: str) -> MarketingAsset:
    db.session.expire_all()
    return db.session.scalar(sa.select(MarketingAsset).where(MarketingAsset.title == title))


def assert_no_metadata(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert len(exif) == 0 and not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp"} & set(image.info)
    assert b"CameraCo" not in data and b"Exif" not in data
    return image


def test_an_uploaded_image_and_its_thumbnail_carry_no_exif_or_gps(app):
    admin, client = admin_client(app)
    response = upload(client, gps_jpeg(), "photo.jpg", title="Street banner", asset_type="banner")
    assert response.status_code == 302
    asset = only_asset("Street banner")
    stored = assert_no_metadata(storage.read_bytes(asset.file))
    assert stored.format == "JPEG" and stored.size == (20, 40)  # turned upright before the EXIF went
    thumb = assert_no_metadata(storage.read_bytes(asset.thumbnail))
    assert thumb.size[0] <= 480 and thumb.size[1] <= 320
    assert asset.file.kind == asset.thumbnail.kind == "marketing_asset" and asset.created_by == admin.id
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "asset.created"))
    assert event.actor_id == admin.id and event.entity_id == str(asset.id)


def test_each_type_accepts_its_files_and_refusals_show_beside_the_field(app):
    _admin, client = admin_client(app)
    wrong = upload(client, pdf_bytes(), "offer.pdf", asset_type="logo")
    assert wrong.status_code == 422 and "accepts .png, .jpg, .jpeg, .webp files" in wrong.get_data(as_text=True)
    fake = upload(client, b"<html>not a png</html>", "logo.png", asset_type="logo")
    assert fake.status_code == 422 and "does not match its .png extension" in fake.get_data(as_text=True)
    missing = client.post("/admin/assets", data={"title": "x", "asset_type": "logo", "min_tier": "bronze"})
    assert missing.status_code == 422 and "Choose a file to upload." in missing.get_data(as_text=True)
    assert upload(client, b"\xff\xfe<p>", "mail.html", asset_type="email_template").status_code == 422
    html = upload(client, b"<p>Hello {{name}}</p>", "mail.html", title="Welcome mail", asset_type="email_template")
    proposal = upload(client, pdf_bytes(), "proposal.pdf", title="Proposal", asset_type="proposal_template")
    assert html.status_code == proposal.status_code == 302
    mail = only_asset("Welcome mail")
    assert mail.thumbnail.content_type == "image/jpeg"  # a drawn card for a document
    _partner, cp = partner_client(app)
    handed = cp.get(f"/cp/assets/{mail.id}/download")
    assert handed.data == b"<p>Hello {{name}}</p>" and handed.headers["X-Content-Type-Options"] == "nosniff"
    assert handed.headers["Content-Disposition"].startswith("attachment")  # never rendered in the portal's origin
    assert db.session.scalar(sa.select(sa.func.count(MarketingAsset.id))) == 2


def _assets(*specs):
    """Assets made through the operation: (title, type, tier[, category])."""
    from werkzeug.datastructures import FileStorage

    from app.enablement import assets

    admin = factories.make_user("admin")
    made = {}
    for title, asset_type, tier, *category in specs:
        data, name = (pdf_bytes(), "p.pdf") if asset_type == "proposal_template" else (png_bytes((30, 60)), "a.png")
        made[title] = assets.create_asset(
            actor=admin, title=title, description="About it.", asset_type=asset_type, min_tier=tier,
            category_id=category[0].id if category else None, upload=FileStorage(io.BytesIO(data), filename=name),
        )  # fmt: skip
    db.session.commit()
    return made


def test_a_higher_tier_asset_is_missing_for_a_lower_tier_partner(app):
    made = _assets(("Open logo", "logo", "bronze"), ("Gold flyer", "flyer", "gold"))
    gold = made["Gold flyer"].id
    _bronze, client = partner_client(app)
    page = client.get("/cp/assets").get_data(as_text=True)
    assert "Open logo" in page and "Gold flyer" not in page
    assert f'href="/cp/assets/{made["Open logo"].id}/download"' in page
    for path in ("download", "thumbnail", "cobranded.pdf"):
        assert client.get(f"/cp/assets/{gold}/{path}").status_code == 404
    _platinum, top = partner_client(app, tier="platinum")
    assert "Gold flyer" in top.get("/cp/assets").text
    assert top.get(f"/cp/assets/{gold}/download").status_code == 200


def test_filters_swap_the_grid_and_refuse_unknown_values(app):
    solar = factories.make_category("Solar")
    _assets(("Solar logo", "logo", "bronze", solar), ("Plain banner", "banner", "bronze"))
    _partner, client = partner_client(app)
    grid = client.get(f"/cp/assets?category={solar.id}", headers=HX)
    text = grid.get_data(as_text=True)
    assert grid.status_code == 200 and "<html" not in text and "Solar logo" in text and "Plain banner" not in text
    by_type = client.get("/cp/assets?type=banner").get_data(as_text=True)
    assert "Plain banner" in by_type and "Solar logo" not in by_type and "<html" in by_type
    assert client.get("/cp/assets?type=poster", headers=HX).status_code == 422


def test_downloads_are_counted_per_download_and_per_partner(app):
    flyer = _assets(("Count me", "flyer", "bronze"))["Count me"]
    partner, client = partner_client(app, company="Counting Co")
    viewer = factories.make_member(partner, "viewer")
    db.session.commit()
    first = client.get(f"/cp/assets/{flyer.id}/download")
    assert first.status_code == 200 and first.headers["Content-Disposition"].startswith("attachment")
    assert first.data == storage.read_bytes(flyer.file)
    assert login(app.test_client(), viewer).get(f"/cp/assets/{flyer.id}/cobranded.pdf").status_code == 200
    client.get(f"/cp/assets/{flyer.id}/thumbnail")  # seeing the thumbnail is not a download
    assert client.head(f"/cp/assets/{flyer.id}/download").status_code == 200  # nor is a link checker's HEAD
    db.session.expire_all()
    assert db.session.get(MarketingAsset, flyer.id).download_count == 2
    rows = db.session.scalars(sa.select(AssetDownload).where(AssetDownload.asset_id == flyer.id)).all()
    assert {(r.cp_id, r.cobranded) for r in rows} == {(partner.id, False), (partner.id, True)}
    _admin, admin = admin_client(app)
    detail = admin.get(f"/admin/assets/{flyer.id}").get_data(as_text=True)
    assert "Counting Co" in detail and 'id="download-count">2<' in detail


def pdf_facts(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    return text, sum(len(page.images) for page in reader.pages)


def test_the_cobranded_pdf_carries_the_partner_name_and_its_logo_when_set(app):
    made = _assets(("Flyer", "flyer", "bronze"), ("Proposal", "proposal_template", "bronze"))
    partner, client = partner_client(app, company="Ødegaard & Co")
    text, images = pdf_facts(client.get(f"/cp/assets/{made['Proposal'].id}/cobranded.pdf").data)
    assert "Ødegaard & Co" in text and "Prepared by" in text and images == 0
    text, images = pdf_facts(client.get(f"/cp/assets/{made['Flyer'].id}/cobranded.pdf").data)
    assert "Ødegaard & Co" in text and images == 1  # the flyer alone
    from werkzeug.datastructures import FileStorage

    logo = FileStorage(io.BytesIO(gps_jpeg((60, 30))), filename="logo.jpg")
    profiles.set_logo(partner, logo, actor=partner.user)
    db.session.commit()
    answer = client.get(f"/cp/assets/{made['Proposal'].id}/cobranded.pdf")
    assert answer.mimetype == "application/pdf" and answer.headers["Content-Disposition"].startswith("attachment")
    text, images = pdf_facts(answer.data)
    assert "Ødegaard & Co" in text and images == 1 and b"CameraCo" not in answer.data
    assert pdf_facts(client.get(f"/cp/assets/{made['Flyer'].id}/cobranded.pdf").data)[1] == 2
    _polish, lodz = partner_client(app, company="Łódź Partners")
    named = lodz.get(f"/cp/assets/{made['Flyer'].id}/cobranded.pdf").headers["Content-Disposition"]
    assert (
        'filename="Flyer - __d_ Partners.pdf"' in named and "filename*=UTF-8''Flyer%20-%20%C5%81%C3%B3d%C5%BA" in named
    )
    logo_only = _assets(("Logo", "logo", "bronze"))["Logo"]
    assert client.get(f"/cp/assets/{logo_only.id}/cobranded.pdf").status_code == 404  # not a co-branded type


def test_admin_edits_retires_and_restores_with_audit_rows(app):
    flyer = _assets(("Old title", "flyer", "bronze"))["Old title"]
    _admin, client = admin_client(app)
    _partner, cp = partner_client(app)
    url = f"/admin/assets/{flyer.id}"
    clash = client.post(url, data={"title": "x", "asset_type": "proposal_template", "min_tier": "bronze"})
    assert clash.status_code == 422 and "upload one with the new type" in clash.get_data(as_text=True)
    saved = client.post(url, data={"title": "New title", "asset_type": "flyer", "min_tier": "silver"})
    assert saved.status_code == 302
    assert cp.get(f"/cp/assets/{flyer.id}/download").status_code == 404  # now silver and above
    client.post(url, data={"title": "New title", "asset_type": "flyer", "min_tier": "bronze"})
    assert client.post(f"{url}/status", data={"active": "no"}).status_code == 302
    assert cp.get(f"/cp/assets/{flyer.id}/download").status_code == 404 and "New title" not in cp.get("/cp/assets").text
    assert client.post(f"{url}/status", data={"active": "maybe"}).status_code == 422
    client.post(f"{url}/status", data={"active": "yes"})
    assert cp.get(f"/cp/assets/{flyer.id}/download").status_code == 200
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == str(flyer.id))).all()
    assert sorted(actions) == ["asset.created", "asset.restored", "asset.retired", "asset.updated", "asset.updated"]
    assert db.session.get(StoredFile, flyer.file_id) is not None
    assert client.get("/admin/assets?status=retired").status_code == 200
    old_files = {flyer.file_id, flyer.thumbnail_file_id}
    form = {
        "title": "New title",
        "asset_type": "banner",
        "min_tier": "bronze",
        "file": (io.BytesIO(gps_jpeg()), "b.jpg"),
    }
    assert client.post(url, data=form, content_type=MULTIPART).status_code == 302
    db.session.expire_all()
    replaced = db.session.get(MarketingAsset, flyer.id)
    assert replaced.asset_type == "banner" and replaced.file.original_name == "b.jpg"
    assert not db.session.scalars(sa.select(StoredFile).where(StoredFile.id.in_(old_files))).all()
    assert_no_metadata(storage.read_bytes(replaced.file))


@pytest.fixture
def race_app():
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 8, "max_overflow": 2})
    yield app
    with app.app_context():
        db.engine.dispose()


@requires_postgres
def test_concurrent_downloads_all_count(app, race_app):
    flyer = _assets(("Popular", "logo", "bronze"))["Popular"]
    partner = factories.make_partner()
    db.session.commit()
    with race_app.app_context():
        clients = [login(race_app.test_client(), partner.user) for _ in range(6)]
    barrier, codes, url = threading.Barrier(len(clients)), [], f"/cp/assets/{flyer.id}/download"

    def download(client):
        barrier.wait()
        codes.extend(client.get(url).status_code for _ in range(5))

    threads = [threading.Thread(target=download, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.session.expire_all()
    assert codes == [200] * 30
    assert db.session.get(MarketingAsset, flyer.id).download_count == 30


def test_the_demo_seeds_every_type_once(app):
    from app.demo import assets as demo_assets
    from app.demo import catalog, people

    people.seed()
    catalog.seed()
    for _ in range(2):
        demo_assets.seed()
        db.session.commit()
    types = db.session.scalars(sa.select(MarketingAsset.asset_type)).all()
    assert len(types) == 6 and set(types) == {"logo", "banner", "flyer", "email_template", "proposal_template"}
    assert db.session.scalar(sa.select(sa.func.sum(MarketingAsset.download_count))) == 6
