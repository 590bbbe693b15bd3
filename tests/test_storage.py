"""One storage test module, run against both backends: local disk and S3 (moto's server, through boto3)."""

import io
import uuid
from urllib.parse import unquote

import pytest
import requests
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.files import storage
from app.models import StoredFile
from tests import factories
from tests.conftest import login, make_app
from tests.storage_support import (
    backend_config,
    docx_bytes,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
    s3_endpoint,  # noqa: F401  (fixture)
    stored_keys,
)


def _app_for(kind: str, request):
    s3_url = request.getfixturevalue("s3_endpoint") if kind == "s3" else None
    app = make_app(**backend_config(kind, s3_url))
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()  # each test's app has its own pool; close it, or PostgreSQL runs out of clients


@pytest.fixture(params=["local", "s3"])
def store_app(request):
    yield from _app_for(request.param, request)


@pytest.fixture
def s3_app(request):
    yield from _app_for("s3", request)


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def test_save_upload_keeps_the_bytes_under_a_generated_key(store_app):
    admin = factories.make_user("admin")
    row = storage.save_upload(upload(png_bytes(), "Floor plan.png"), "evidence", actor=admin)
    db.session.commit()
    assert row.original_name == "Floor plan.png"
    assert row.content_type == "image/png" and row.size_bytes == len(png_bytes())
    assert "Floor" not in row.storage_key and row.storage_key.startswith("evidence/")
    assert row.storage_key in stored_keys(store_app)
    assert storage.read_bytes(row) == png_bytes()


def test_save_bytes_stores_generated_files(store_app):
    row = storage.save_bytes(pdf_bytes(), "report", "report.pdf", "application/pdf")
    db.session.commit()
    assert storage.read_bytes(row) == pdf_bytes()


def test_delete_removes_row_and_bytes_after_commit(store_app):
    row = storage.save_bytes(png_bytes(), "logo", "logo.png", "image/png")
    db.session.commit()
    key = row.storage_key
    storage.delete(row)
    assert key in stored_keys(store_app)  # not gone before the commit
    db.session.commit()
    assert key not in stored_keys(store_app)
    assert db.session.get(StoredFile, row.id) is None


def test_bytes_of_a_rolled_back_transaction_are_removed(store_app):
    before = stored_keys(store_app)
    storage.save_upload(upload(png_bytes(), "a.png"), "evidence", actor=None)
    db.session.rollback()
    assert stored_keys(store_app) == before


def test_rejected_upload_stores_nothing(store_app):
    before = stored_keys(store_app)
    with pytest.raises(storage.UploadRejected, match="does not match"):
        storage.save_upload(upload(b"<html><script>alert(1)</script>", "quote.pdf"), "evidence", actor=None)
    assert stored_keys(store_app) == before
    assert db.session.scalar(db.select(db.func.count(StoredFile.id))) == 0


def _download(store_app, user, row):
    client = login(store_app.test_client(), user)
    response = client.get(f"/files/{row.id}")
    if response.status_code == 302:  # S3: a short-lived presigned GET
        assert "X-Amz-Signature" in response.location and "X-Amz-Expires" in response.location
        fetched = requests.get(response.location, timeout=10)
        assert fetched.status_code == 200
        return fetched.content, fetched.headers
    assert response.status_code == 200
    return response.data, response.headers


def test_download_serves_inline_images_with_the_original_name(store_app):
    admin = factories.make_user("admin")
    row = storage.save_upload(upload(jpeg_bytes(), "Façade photo.jpg"), "evidence", actor=admin)
    db.session.commit()
    body, headers = _download(store_app, admin, row)
    assert body == jpeg_bytes()
    assert headers["Content-Type"].startswith("image/jpeg")
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Façade photo.jpg"


def test_download_sends_documents_as_attachments(store_app):
    admin = factories.make_user("admin")
    row = storage.save_upload(upload(docx_bytes(), "Proposal.docx"), "evidence", actor=admin)
    db.session.commit()
    body, headers = _download(store_app, admin, row)
    assert body == docx_bytes()
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Proposal.docx" in headers["Content-Disposition"]


def test_download_of_a_file_the_viewer_may_not_see_is_404(store_app):
    owner, stranger = factories.make_partner(), factories.make_partner()
    row = storage.save_upload(upload(pdf_bytes(), "slip.pdf"), "evidence", actor=owner.user, cp_id=owner.id)
    db.session.commit()
    assert login(store_app.test_client(), owner.user).get(f"/files/{row.id}").status_code in {200, 302}
    assert login(store_app.test_client(), stranger.user).get(f"/files/{row.id}").status_code == 404
    assert store_app.test_client().get(f"/files/{row.id}").status_code == 302  # to the login page
    assert login(store_app.test_client(), stranger.user).get("/files/not-a-uuid").status_code == 404


def _presign(client, name: str, size: int, kind: str = "evidence"):
    return client.post("/files/presign", data={"kind": kind, "filename": name, "size": str(size)})


def test_presigned_direct_upload(store_app):
    partner = factories.make_partner()
    db.session.commit()
    client = login(store_app.test_client(), partner.user)
    data = pdf_bytes()
    answer = _presign(client, "Signed quote.pdf", len(data))
    if store_app.config["STORAGE_BACKEND"] == "local":
        assert answer.status_code == 422 and "send the file with the form" in answer.json["error"]
        return
    assert answer.status_code == 200
    form = answer.json
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("x.pdf", data)}, timeout=10)
    assert posted.status_code in {200, 201, 204}
    row = db.session.get(StoredFile, uuid.UUID(form["file_id"]))
    assert row.is_ready is False
    assert client.get(f"/files/{row.id}").status_code == 404  # not confirmed yet
    confirmed = client.post(form["confirm_url"])
    assert confirmed.status_code == 200
    db.session.expire_all()
    row = db.session.get(StoredFile, uuid.UUID(form["file_id"]))
    assert row.is_ready and row.size_bytes == len(data) and row.cp_id == partner.id
    assert storage.claim_direct_upload(row.id, "evidence", actor=partner.user) == row
    body, _headers = _download(store_app, partner.user, row)
    assert body == data


def test_presigned_upload_with_wrong_content_is_rejected_and_removed(s3_app):
    store_app = s3_app
    admin = factories.make_user("admin")
    db.session.commit()
    client = login(store_app.test_client(), admin)
    html = b"<html><body>not a pdf</body></html>"
    form = _presign(client, "quote.pdf", len(html)).json
    requests.post(form["url"], data=form["fields"], files={"file": ("quote.pdf", html)}, timeout=10)
    key = form["fields"]["key"]
    assert key in stored_keys(store_app)
    confirmed = client.post(form["confirm_url"])
    assert confirmed.status_code == 422 and "does not match" in confirmed.json["error"]
    db.session.expire_all()
    assert db.session.get(StoredFile, uuid.UUID(form["file_id"])) is None
    assert key not in stored_keys(store_app)


def test_presign_refuses_bad_requests(store_app):
    partner = factories.make_partner()
    db.session.commit()
    client = login(store_app.test_client(), partner.user)
    assert _presign(client, "bank.pdf", 100, kind="bank_slip").status_code == 404  # admins' kind
    assert client.post("/files/presign", data={}).status_code == 422
    too_big = _presign(client, "big.pdf", store_app.config["MAX_UPLOAD_BYTES"] + 1)
    assert too_big.status_code == 422
    assert _presign(client, "run.pdf.exe", 10).status_code == 422
