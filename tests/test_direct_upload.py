"""Browser-to-S3 uploads through the real forms: presign, POST to moto's S3 server, confirm, then submit the
form with only `<name>__file_id`. Every file field is a DirectFileField of the right kind, a claimed id is
used once, by its uploader, for its kind, and a refused claim writes nothing. Local storage is unchanged."""

import io
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms.fields.core import UnboundField

from app.catalog import operations as catalog
from app.extensions import db
from app.files import storage
from app.files.fields import DirectFileField
from app.models import (
    AuditEvent,
    CategoryImage,
    CommissionTransaction,
    ContentImage,
    CpPayment,
    LeadEvidence,
    LeadImport,
    PlatformFeeSettlement,
    StoredFile,
    User,
)
from app.models.partners import ChannelPartner
from app.money import settlements
from app.portals.lead_forms import prefix_for
from tests import factories
from tests.conftest import login, make_app, requires_postgres
from tests.fee_support import won
from tests.storage_support import (
    backend_config,
    pdf_bytes,
    png_bytes,
    s3_endpoint,  # noqa: F401  (fixture)
    stored_keys,
)
from tests.world_parts.w30_commissions import won_transaction


@pytest.fixture
def s3_app(request):
    app = make_app(**backend_config("s3", request.getfixturevalue("s3_endpoint")))
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def presign(client, kind: str, name: str, data: bytes) -> dict:
    answer = client.post("/files/presign", data={"kind": kind, "filename": name, "size": str(len(data))})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def direct_upload(client, kind: str, name: str, data: bytes, confirm: bool = True) -> str:
    """What static/js/direct_upload.js does: presign, POST the bytes to S3 (not the app), confirm."""
    form = presign(client, kind, name, data)
    posted = requests.post(form["url"], data=form["fields"], files={"file": (name, data)}, timeout=10)
    assert posted.status_code in {200, 201, 204}
    if confirm:
        assert client.post(form["confirm_url"]).status_code == 200
    return form["file_id"]


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


# --- every form, end to end -------------------------------------------------------------------------


@dataclass
class Case:
    user: User
    url: str
    field: str
    data: dict
    attached: Callable[[], uuid.UUID | None]  # the file id the record now points at


def _avatar():
    user = factories.make_partner().user
    return Case(user, "/account", "avatar", {"action": "upload"}, lambda: fresh(User, user.id).avatar_file_id)


def _logo():
    partner = factories.make_partner()
    return Case(partner.user, "/cp/profile/logo", "logo", {}, lambda: fresh(ChannelPartner, partner.id).logo_file_id)


def _content_image():
    partner = factories.make_partner()
    content = catalog.save_content(partner, factories.make_category(), "We install.", actor=partner.user)
    query = sa.select(ContentImage.file_id).where(ContentImage.content_id == content.id)
    return Case(partner.user, f"/cp/profile/content/{content.id}/images", "image", {}, lambda: db.session.scalar(query))


def _category_image():
    admin, category = factories.make_user("admin"), factories.make_category()
    query = sa.select(CategoryImage.file_id).where(CategoryImage.category_id == category.id)
    return Case(admin, f"/admin/categories/{category.id}/images", "image", {}, lambda: db.session.scalar(query))


def _evidence():
    partner = factories.make_partner()
    lead = factories.make_lead(assignee=partner)
    prefix = prefix_for(lead)
    query = sa.select(LeadEvidence.file_id).where(LeadEvidence.lead_id == lead.id)
    data = {f"{prefix}-description": "Signed quote", "context": ""}
    return Case(partner.user, f"/cp/leads/{lead.id}/evidence", f"{prefix}-file", data, lambda: db.session.scalar(query))


def _client_payment():
    admin = factories.make_user("admin")
    tx = won_transaction(factories.make_partner(), admin, "Client pays")
    attached = lambda: fresh(CommissionTransaction, tx.id).client_payment_file_id  # noqa: E731
    return Case(admin, f"/admin/commissions/{tx.id}/client-payment", "attachment", {"paid_on": "2026-01-15"}, attached)


def _commission_slip():
    admin = factories.make_user("admin")
    tx = won_transaction(factories.make_partner(), admin, "Settle me", "due")
    data = {"confirmed_net": str(tx.net_commission), "idempotency_key": uuid.uuid4().hex}
    attached = lambda: fresh(CommissionTransaction, tx.id).bank_slip_file_id  # noqa: E731
    return Case(admin, f"/admin/commissions/{tx.id}/settle", "bank_slip", data, attached)


def _payment_receipt():
    partner = factories.make_partner()
    tx = won_transaction(partner, factories.make_user("admin"), "Paid me directly", "direct")
    query = sa.select(CpPayment.receipt_file_id).where(CpPayment.commission_tx_id == tx.id)
    return Case(
        partner.user, f"/cp/commissions/{tx.id}/pay/bank-transfer", "receipt", {}, lambda: db.session.scalar(query)
    )


def _fee_slip():
    admin = factories.make_user("admin")
    tx = won(factories.make_partner(), admin)
    data = {"idempotency_key": uuid.uuid4().hex, "transaction_ids": [str(tx.id)]}
    data.update(confirm_count="1", confirm_total=str(tx.platform_fee))  # as the confirmation step showed it
    query = sa.select(PlatformFeeSettlement.bank_slip_file_id)
    return Case(admin, "/admin/platform-fees/settle", "bank_slip", data, lambda: db.session.scalar(query))


def _lead_import():
    partner, category = factories.make_partner(), factories.make_category()
    query = sa.select(LeadImport.file_id).where(LeadImport.partner_id == partner.id)
    return Case(partner.user, "/cp/imports", "file", {"category": str(category.id)}, lambda: db.session.scalar(query))


IMAGE, PDF = ("photo.png", png_bytes()), ("slip.pdf", pdf_bytes())
CSV = ("leads.csv", b"First name,Last name,Email\nAnn,Lee,ann@lee.example\n")
FORMS = {
    "avatar": (_avatar, "avatar", IMAGE),
    "logo": (_logo, "logo", IMAGE),
    "content_image": (_content_image, "content_image", IMAGE),
    "category_image": (_category_image, "category_image", IMAGE),
    "evidence": (_evidence, "evidence", PDF),
    "client_payment": (_client_payment, "client_payment", PDF),
    "commission_slip": (_commission_slip, "bank_slip", PDF),
    "payment_receipt": (_payment_receipt, "payment_receipt", PDF),
    "fee_slip": (_fee_slip, "bank_slip", PDF),
    "lead_import": (_lead_import, "lead_import", CSV),
}


@pytest.mark.parametrize("form", FORMS)
def test_each_file_form_attaches_a_file_the_browser_sent_to_s3(s3_app, form):
    make_case, kind, (name, data) = FORMS[form]
    factories.make_fee_config("percentage", "10")
    case = make_case()
    db.session.commit()
    client = login(s3_app.test_client(), case.user)
    keys_before = stored_keys(s3_app)
    file_id = direct_upload(client, kind, name, data)

    response = client.post(case.url, data={**case.data, case.field + "__file_id": file_id})
    assert response.status_code < 400, response.get_data(as_text=True)
    assert str(case.attached()) == file_id
    stored = fresh(StoredFile, uuid.UUID(file_id))
    assert stored.is_ready and stored.original_name == name and stored.kind == kind
    assert stored_keys(s3_app) - keys_before == {stored.storage_key}  # the browser's object; the app wrote none
    download = client.get(f"/files/{file_id}")
    assert download.status_code == 302 and requests.get(download.location, timeout=10).content == data


# --- refused claims: the message beside the field, 422, nothing written -------------------------------


@pytest.fixture
def settle_world(s3_app):
    factories.make_fee_config("percentage", "10")
    admin, other_admin = factories.make_user("admin"), factories.make_user("admin")
    partner = factories.make_partner()
    first, second = (won_transaction(partner, admin, f"Deal {n}", "due") for n in (1, 2))
    db.session.commit()
    return {
        "admin": login(s3_app.test_client(), admin),
        "other_admin": login(s3_app.test_client(), other_admin),
        "first": first,
        "second": second,
    }


def settle(client, tx, file_id):
    data = {"confirmed_net": str(tx.net_commission), "idempotency_key": uuid.uuid4().hex, "bank_slip__file_id": file_id}
    return client.post(f"/admin/commissions/{tx.id}/settle", data=data)


def _reused(world):
    file_id = direct_upload(world["admin"], "bank_slip", "slip.pdf", pdf_bytes())
    assert settle(world["admin"], world["first"], file_id).status_code == 303
    return file_id


def _someone_elses(world):
    return direct_upload(world["other_admin"], "bank_slip", "slip.pdf", pdf_bytes())


def _wrong_kind(world):
    return direct_upload(world["admin"], "client_payment", "invoice.pdf", pdf_bytes())


def _unconfirmed(world):
    return direct_upload(world["admin"], "bank_slip", "slip.pdf", pdf_bytes(), confirm=False)


REFUSALS = {
    "reused": (_reused, "That upload has already been used. Please upload the file again."),
    "another user's": (_someone_elses, "The uploaded file could not be found. Please upload it again."),
    "wrong kind": (_wrong_kind, "The uploaded file could not be found. Please upload it again."),
    "unconfirmed": (_unconfirmed, "The uploaded file could not be found. Please upload it again."),
    "not an id": (lambda world: "../../etc/passwd", "The uploaded file could not be found. Please upload it again."),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_claim_that_is_not_yours_to_make_is_refused_beside_the_field(settle_world, refusal):
    make_id, message = REFUSALS[refusal]
    file_id = make_id(settle_world)
    tx = settle_world["second"]
    settled = sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "commission.settled")
    settled_before = db.session.scalar(settled)

    response = settle(settle_world["admin"], tx, file_id)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(r'id="bank_slip-error">\s*' + re.escape(message), body), body
    tx = fresh(CommissionTransaction, tx.id)
    assert tx.status == "due" and tx.bank_slip_file_id is None and tx.settlement_key is None
    assert db.session.scalar(settled) == settled_before


def test_a_used_slip_cannot_be_attached_to_a_fee_settlement_either(settle_world):
    """The CP settlement's slip is a bank_slip like a fee settlement's: still it is used once only."""
    file_id = _reused(settle_world)
    data = {
        "idempotency_key": uuid.uuid4().hex,
        "transaction_ids": [str(settle_world["first"].id)],
        "bank_slip__file_id": file_id,
        "confirm_count": "1",
        "confirm_total": str(settle_world["first"].platform_fee),
    }
    response = settle_world["admin"].post("/admin/platform-fees/settle", data=data)
    assert response.status_code == 422
    assert re.search(r'id="bank_slip-error">\s*That upload has already been used', response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(PlatformFeeSettlement.id))) == 0


def test_a_form_failing_after_the_claim_writes_nothing_and_the_upload_can_be_used_again(settle_world, monkeypatch):
    client, tx = settle_world["admin"], settle_world["second"]
    file_id = direct_upload(client, "bank_slip", "slip.pdf", pdf_bytes())

    def refuse(_tx):
        raise settlements.SettlementRefused("Something else went wrong after the slip was claimed.")

    monkeypatch.setattr(settlements, "_notify_settled", refuse)
    assert settle(client, tx, file_id).status_code == 409
    assert fresh(CommissionTransaction, tx.id).bank_slip_file_id is None
    stored = fresh(StoredFile, uuid.UUID(file_id))
    assert stored.is_ready and stored.awaiting_claim
    monkeypatch.undo()
    assert settle(client, tx, file_id).status_code == 303
    assert str(fresh(CommissionTransaction, tx.id).bank_slip_file_id) == file_id


def test_the_required_slip_accepts_a_direct_upload_and_still_requires_something(s3_app):
    factories.make_fee_config("percentage", "10")
    admin = factories.make_user("admin")
    tx = won(factories.make_partner(), admin)
    db.session.commit()
    client = login(s3_app.test_client(), admin)
    data = {"idempotency_key": uuid.uuid4().hex, "transaction_ids": [str(tx.id)]}
    data.update(confirm_count="1", confirm_total=str(tx.platform_fee))  # as the confirmation step showed it
    missing = client.post("/admin/platform-fees/settle", data=data)
    assert missing.status_code == 422 and "Attach the bank slip of the transfer" in missing.get_data(as_text=True)
    file_id = direct_upload(client, "bank_slip", "March.pdf", pdf_bytes())
    assert client.post("/admin/platform-fees/settle", data={**data, "bank_slip__file_id": file_id}).status_code == 302
    settlement = db.session.scalar(sa.select(PlatformFeeSettlement))
    assert str(settlement.bank_slip_file_id) == file_id


# --- the layout switch, and local storage as before ---------------------------------------------------


def test_s3_pages_switch_the_script_on_and_mark_file_inputs_with_their_kind(s3_app):
    user = factories.make_user("admin")
    db.session.commit()
    page = login(s3_app.test_client(), user).get("/account").get_data(as_text=True)
    assert re.search(r'<body[^>]* data-direct-upload="/files/presign"', page)
    avatar_input = re.search(r'<input[^>]*name="avatar"[^>]*>', page).group(0)
    assert 'type="file"' in avatar_input and 'data-upload-kind="avatar"' in avatar_input
    assert "js/direct_upload.js" in page
    csp = login(s3_app.test_client(), user).get("/account").headers["Content-Security-Policy"]
    endpoint = s3_app.config["S3_ENDPOINT_URL"]
    assert f"connect-src 'self' ws: wss: {endpoint}" in csp  # the script may POST to the bucket


def test_local_storage_has_no_direct_upload_and_refuses_a_file_id(app, login_as):
    client = login_as("admin")
    page = client.get("/account").get_data(as_text=True)
    assert "<body" in page and "data-direct-upload" not in page
    assert 'data-upload-kind="avatar"' in page  # harmless without the script: the file is posted with the form
    admin = db.session.scalar(sa.select(User).where(User.role == "admin"))
    stored = storage.save_bytes(png_bytes(), "avatar", "me.png", "image/png", actor=admin)
    db.session.commit()
    response = client.post("/account", data={"action": "upload", "avatar__file_id": str(stored.id)})
    assert response.status_code == 422
    assert "Direct upload is not available" in response.get_data(as_text=True)
    assert fresh(User, admin.id).avatar_file_id is None


# --- the field itself ---------------------------------------------------------------------------------

EXPECTED_KINDS = {
    "AvatarForm.avatar": "avatar",
    "LogoForm.logo": "logo",
    "ContentImageForm.image": "content_image",
    "ImageForm.image": "category_image",
    "EvidenceForm.file": "evidence",
    "ClientPaymentForm.attachment": "client_payment",
    "SettleForm.bank_slip": "bank_slip",
    "BankTransferForm.receipt": "payment_receipt",
    "SettleFeesForm.bank_slip": "bank_slip",
    "UploadForm.file": "lead_import",
    "ModuleForm.upload": "training",
}
# Marketing assets are re-encoded from their pixels on the server (EXIF and GPS stripped, thumbnails drawn), so their
# bytes must pass through the app: direct-to-S3 would store the original first (app/enablement/assets_files.py).
THROUGH_THE_APP = {"AssetCreateForm.file", "AssetEditForm.file"}


def _form_classes(cls=FlaskForm):
    for sub in cls.__subclasses__():
        yield sub
        yield from _form_classes(sub)


def test_every_file_field_is_a_direct_file_field_of_the_right_kind(app):
    found = {}
    for form in _form_classes():
        if not form.__module__.startswith("app."):
            continue
        for name, value in vars(form).items():
            if isinstance(value, UnboundField) and issubclass(value.field_class, FileField):
                if f"{form.__name__}.{name}" in THROUGH_THE_APP:
                    continue
                assert value.field_class is DirectFileField, f"{form.__name__}.{name} posts its bytes through the app"
                found[f"{form.__name__}.{name}"] = value.kwargs["kind"]
    assert found == EXPECTED_KINDS
    assert set(found.values()) <= set(storage.KIND_GROUPS)


class _Form(FlaskForm):
    class Meta:
        csrf = False

    slip = DirectFileField("Slip", kind="bank_slip")


def test_the_field_reads_bytes_first_then_a_file_id(app):
    file_id = str(uuid.uuid4())
    with app.test_request_context(method="POST", data={"slip__file_id": file_id}):
        assert _Form().slip.data == storage.ClaimedUpload(file_id)
    with app.test_request_context(method="POST", data={"slip__file_id": "", "other": "x"}):
        assert _Form().slip.data is None
    upload = {"slip": (io.BytesIO(pdf_bytes()), "slip.pdf"), "slip__file_id": file_id}
    with app.test_request_context(method="POST", data=upload, content_type="multipart/form-data"):
        assert isinstance(_Form().slip.data, FileStorage)
    with app.test_request_context():
        assert 'data-upload-kind="bank_slip"' in str(_Form(formdata=None).slip())
    with pytest.raises(ValueError, match="unknown upload kind"):
        DirectFileField("Nope", kind="nope").bind(_Form(formdata=None), "nope")


@requires_postgres
def test_one_upload_raced_into_eight_settlements_is_attached_once(s3_app):
    """Each request locks the file's row before checking it is unused, so the losers see the winner's record."""
    admin = factories.make_user("admin")
    partner = factories.make_partner()
    txs = [won_transaction(partner, admin, f"Race {n}", "due") for n in range(8)]
    db.session.commit()
    file_id = direct_upload(login(s3_app.test_client(), admin), "bank_slip", "slip.pdf", pdf_bytes())
    race_app = make_app(
        **{k: s3_app.config[k] for k in ("STORAGE_BACKEND", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID")},
        S3_SECRET_ACCESS_KEY="test",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 2},
    )
    plain = [SimpleNamespace(id=tx.id, net_commission=tx.net_commission) for tx in txs]  # no ORM across threads
    barrier = threading.Barrier(len(txs))
    codes, errors = [], []

    clients = [login(race_app.test_client(), admin) for _ in plain]  # a server-side session each, made here

    def attempt(tx, client):
        try:
            barrier.wait(timeout=30)
            codes.append(settle(client, tx, file_id).status_code)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(repr(exc))

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(plain, clients, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with race_app.app_context():
        db.engine.dispose()
    assert not errors
    assert sorted(codes) == [303] + [422] * 7
    db.session.expire_all()
    slips = db.session.scalars(
        sa.select(CommissionTransaction.bank_slip_file_id).where(CommissionTransaction.id.in_([t.id for t in plain]))
    )
    assert [str(s) for s in slips if s] == [file_id]


def test_abandoned_uploads_are_purged_and_claimed_ones_kept(s3_app):
    admin = factories.make_user("admin")
    db.session.commit()
    client = login(s3_app.test_client(), admin)
    confirmed = direct_upload(client, "avatar", "a.png", png_bytes())
    unconfirmed = direct_upload(client, "avatar", "b.png", png_bytes(), confirm=False)
    claimed = direct_upload(client, "avatar", "c.png", png_bytes())
    storage.save_upload(storage.ClaimedUpload(claimed), "avatar", actor=admin, allowed=("image",))
    db.session.commit()
    recent = direct_upload(client, "avatar", "d.png", png_bytes())
    db.session.commit()
    two_days_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    old = [uuid.UUID(f) for f in (confirmed, unconfirmed, claimed)]
    db.session.execute(sa.update(StoredFile).where(StoredFile.id.in_(old)).values(created_at=two_days_ago))
    db.session.commit()
    abandoned = {fresh(StoredFile, uuid.UUID(f)).storage_key for f in (confirmed, unconfirmed)}
    keys_before = stored_keys(s3_app)
    assert abandoned < keys_before

    result = s3_app.test_cli_runner().invoke(args=["purge-abandoned-uploads", "--hours", "24"])

    assert result.exit_code == 0 and "Removed 2 abandoned uploads" in result.output, result.output
    assert fresh(StoredFile, uuid.UUID(confirmed)) is None and fresh(StoredFile, uuid.UUID(unconfirmed)) is None
    kept = {fresh(StoredFile, uuid.UUID(f)).storage_key for f in (claimed, recent)}
    assert stored_keys(s3_app) == keys_before - abandoned and kept <= stored_keys(s3_app)
