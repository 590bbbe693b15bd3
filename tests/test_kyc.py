"""KYC banking (issue 17 item 3): encrypted at rest, masked except on the settle screen, IBAN/BIC checks, the
admin's verify/reject, the reset on any change by the partner, `flask rotate-key`, and the production check."""

import re
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from app.crypto import decrypt, encrypt
from app.extensions import db
from app.models import AuditEvent, ChannelPartner, EmailOutbox, Notification
from app.production import ConfigurationError, check_config
from tests import factories
from tests.conftest import database_url, is_postgres, login
from tests.test_migrations import flask
from tests.world_parts.w30_commissions import won_transaction

HX = {"HX-Request": "true"}
IBAN, IBAN_COMPACT = "de89 3704 0044 0532 0130 00", "DE89370400440532013000"
BANK = {
    "bank_name": "Commerzbank",
    "bank_account_name": "Blue Harbor GmbH",
    "bank_account_number": "0532013000",
    "bank_iban": IBAN,
    "bank_swift_code": "cobadeffxxx",
    "bank_routing_number": "37040044",
    "bank_branch": "Köln",
    "bank_currency": "EUR",
    "payout_method": "wire",
    "tax_id": "DE123456789",
}


@pytest.fixture
def people(app):
    admin = factories.make_user("admin")
    partner = factories.make_partner(company="Blue Harbor", bank_account_number="12345678901", kyc_status="unverified")
    partner.bank_iban, partner.tax_id, partner.bank_currency = IBAN_COMPACT, "DE123456789", "EUR"
    boss = factories.make_user("super_admin")
    db.session.commit()
    return {"admin": admin, "cp": partner, "super": boss}


def fresh(partner) -> ChannelPartner:
    db.session.expire_all()
    return db.session.get(ChannelPartner, partner.id)


def raw_row(partner) -> dict:
    """The row as stored, read with plain SQL (no EncryptedText in between)."""
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT bank_account_number, bank_iban, tax_id FROM channel_partners WHERE code = :code"),
            {"code": partner.code},
        )
        return dict(row.mappings().one())


def form_inputs(html: str) -> dict:
    """name → value of every <input> and selected <option> of the bank form, as a browser would send it."""
    values = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attrs.get("name") not in (None, "idempotency_key"):  # a fresh submission each time
            values[attrs["name"]] = attrs.get("value", "")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        options = re.findall(r"<option([^>]*)>", body)
        chosen = next((o for o in options if " selected" in o), options[0])  # a browser sends the first by default
        values[name] = re.search(r'value="([^"]*)"', chosen).group(1)
    return values


# --- encrypted at rest, masked on screen -----------------------------------------------------------


def test_the_raw_columns_hold_ciphertext_and_the_model_the_plain_values(app, people):
    client = login(app.test_client(), people["cp"].user)
    assert client.post("/cp/profile/bank", data=BANK).status_code == 302
    raw = raw_row(people["cp"])
    for column, plain in (
        ("bank_account_number", "0532013000"),
        ("bank_iban", IBAN_COMPACT),
        ("tax_id", "DE123456789"),
    ):
        assert raw[column].startswith("gAAAAA") and plain not in raw[column], column
        assert decrypt(raw[column]) == plain
    partner = fresh(people["cp"])
    assert (partner.bank_account_number, partner.bank_iban, partner.tax_id) == (
        "0532013000",
        IBAN_COMPACT,
        "DE123456789",
    )
    assert (partner.bank_swift_code, partner.bank_currency, partner.payout_method) == ("COBADEFFXXX", "EUR", "wire")


def test_numbers_are_masked_everywhere_but_on_the_settle_screen(app, people):
    partner, admin = people["cp"], people["admin"]
    tx = won_transaction(partner, admin, "Harbor deal", status="due")
    db.session.commit()
    secrets = ("12345678901", IBAN_COMPACT, "DE89 3704", "DE123456789")
    pages = [
        (partner.user, "/cp/profile"),
        (partner.user, "/cp/"),
        (partner.user, f"/cp/commissions/{tx.id}"),
        (admin, f"/admin/partners/{partner.id}"),
        (admin, "/admin/partners"),
        (admin, "/admin/commissions"),
        (people["super"], f"/super/partners/{partner.id}"),
    ]
    for user, url in pages:
        response = login(app.test_client(), user).get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and not [s for s in secrets if s in html], url
    profile = login(app.test_client(), admin).get(f"/admin/partners/{partner.id}").get_data(as_text=True)
    assert "•••••••8901" in profile and "•" * 18 + "3000" in profile and "•" * 7 + "6789" in profile
    settle = login(app.test_client(), admin).get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert "12345678901" in settle and "DE89 3704 0044 0532 0130 00" in settle and "DE123456789" in settle
    assert "kyc-warning" in settle and 'id="settle-form"' not in settle  # not verified yet: no payout
    fresh(partner).kyc_status = "verified"
    db.session.commit()
    settle = login(app.test_client(), admin).get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert 'id="settle-form"' in settle and "12345678901" in settle and "kyc-warning" not in settle
    read_only = login(app.test_client(), people["super"]).get(f"/admin/commissions/{tx.id}").get_data(as_text=True)
    assert 'id="settle-form"' not in read_only and "•••••••8901" in read_only
    assert not [s for s in secrets if s in read_only]  # the super admin does not settle: masked there too


def test_the_form_shows_secrets_masked_and_sending_it_back_unchanged_keeps_them(app, people):
    partner = people["cp"]
    partner.kyc_status = "verified"
    db.session.commit()
    client = login(app.test_client(), partner.user)
    page = client.get("/cp/profile").get_data(as_text=True)
    sent = form_inputs(page.split('id="bank-card"')[1])
    assert sent["bank_account_number"] == "•••••••8901" and sent["tax_id"] == "•••••••6789"
    assert "12345678901" not in page and IBAN_COMPACT not in page
    response = client.post("/cp/profile/bank", data=sent, follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    partner = fresh(partner)
    assert (partner.bank_account_number, partner.bank_iban, partner.kyc_status) == (
        "12345678901",
        IBAN_COMPACT,
        "verified",
    )
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0
    # clearing a masked field removes the value; the IBAN alone is enough
    assert client.post("/cp/profile/bank", data={**sent, "bank_account_number": ""}).status_code == 302
    assert fresh(partner).bank_account_number is None and fresh(partner).bank_iban == IBAN_COMPACT
    both_gone = client.post("/cp/profile/bank", data={**sent, "bank_account_number": "", "bank_iban": ""})
    assert both_gone.status_code == 422 and "Enter an account number or an IBAN." in both_gone.get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bank_iban", "DE89 3704 0044 0532 0130 01", "This is not a valid IBAN: the check digits do not match"),
        ("bank_iban", "XX89 3704 0044", "This is not a valid IBAN"),
        ("bank_iban", "DE89 3704 0044 0532 0130 0000 1", "This is not a valid IBAN"),
        ("bank_swift_code", "DEUTXXFF", "8 or 11 letters and digits, e.g. DEUTDEFF or DEUTDEFF500: it does not start"),
        ("bank_swift_code", "DEUTDEF", "8 or 11"),
        ("bank_currency", "XYZ", "Not a valid choice"),
        ("payout_method", "paypal", "Not a valid choice"),
        ("tax_id", "<script>", "Use 2 to 40 letters"),
    ],
)
def test_bad_iban_bic_and_choices_are_refused_beside_the_field(app, people, field, value, message):
    client = login(app.test_client(), people["cp"].user)
    response = client.post("/cp/profile/bank", data={**BANK, field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<div class="invalid-feedback d-block" id="{field}-error">([^<]*)</div>', html)
    assert error and message in error.group(1), html[html.find("invalid-feedback") - 200 :][:600]
    assert fresh(people["cp"]).bank_account_number == "12345678901"


# --- the admin's review ---------------------------------------------------------------------------------


def test_admin_verifies_with_who_and_when_and_the_partner_is_told(app, people, mail_outbox):
    partner, admin = people["cp"], people["admin"]
    client = login(app.test_client(), admin)
    page = client.get(f"/admin/partners/{partner.id}").get_data(as_text=True)
    assert 'data-kyc="unverified"' in page and "Review the bank details" in page
    response = client.post(f"/admin/partners/{partner.id}/kyc", data={"verdict": "verified"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="kyc-card"' in html and "<html" not in html
    assert "Verified on" in html and f"by {admin.display_name}" in html and "Review the bank details" not in html
    partner = fresh(partner)
    assert (partner.kyc_status, partner.kyc_reviewed_by) == ("verified", admin.id) and partner.kyc_reviewed_at
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "partner.kyc_verified"))
    assert event.actor_id == admin.id and event.before == {"kyc_status": "unverified"}
    assert event.after["bank"]["bank_account_number"] == "•••••••8901"  # masked in the log too
    note = db.session.scalar(sa.select(Notification).where(Notification.event == "kyc_reviewed"))
    assert note.user_id == partner.user_id and note.title == "Bank details verified"
    assert any(m["To"] == partner.user.email and m["Subject"] == "Bank details verified" for m in mail_outbox)
    again = client.post(f"/admin/partners/{partner.id}/kyc", data={"verdict": "rejected", "note": "No."}, headers=HX)
    assert again.status_code == 409 and "already verified" in again.get_data(as_text=True)
    assert fresh(partner).kyc_status == "verified"


def test_rejecting_needs_a_note_which_the_partner_reads(app, people):
    partner, admin = people["cp"], people["admin"]
    client = login(app.test_client(), admin)
    refused = client.post(f"/admin/partners/{partner.id}/kyc", data={"verdict": "rejected", "note": "  "}, headers=HX)
    assert refused.status_code == 422
    assert re.search(r'id="note-error">Say what is wrong', refused.get_data(as_text=True))
    assert fresh(partner).kyc_status == "unverified"
    for bad in ({"verdict": "maybe"}, {}, {"verdict": "rejected", "note": "x" * 2001}):
        assert client.post(f"/admin/partners/{partner.id}/kyc", data=bad).status_code == 422
    done = client.post(
        f"/admin/partners/{partner.id}/kyc", data={"verdict": "rejected", "note": "Holder name differs."}
    )
    assert done.status_code == 302
    partner = fresh(partner)
    assert (partner.kyc_status, partner.kyc_note, partner.kyc_reviewed_by) == (
        "rejected",
        "Holder name differs.",
        admin.id,
    )
    cp_page = login(app.test_client(), partner.user).get("/cp/profile").get_data(as_text=True)
    assert 'data-kyc="rejected"' in cp_page and "Holder name differs." in cp_page


def test_nothing_to_review_without_bank_details(app, people):
    bare = factories.make_partner(
        bank_name=None, bank_account_number=None, bank_account_name=None, kyc_status="unverified"
    )
    db.session.commit()
    client = login(app.test_client(), people["admin"])
    assert "Review the bank details" not in client.get(f"/admin/partners/{bare.id}").get_data(as_text=True)
    response = client.post(f"/admin/partners/{bare.id}/kyc", data={"verdict": "verified"}, headers=HX)
    assert response.status_code == 409 and "no bank details to review" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["cp", "super"])
def test_only_an_admin_reviews(app, people, role):
    user = people["cp"].user if role == "cp" else people["super"]
    client = login(app.test_client(), user)
    assert client.post(f"/admin/partners/{people['cp'].id}/kyc", data={"verdict": "verified"}).status_code == 403
    assert fresh(people["cp"]).kyc_status == "unverified"


def test_a_bank_change_by_the_partner_resets_kyc_tells_the_admins_and_is_audited_masked(app, people, mail_outbox):
    partner, admin = people["cp"], people["admin"]
    partner.kyc_status, partner.kyc_reviewed_by, partner.kyc_note = "verified", admin.id, "fine"
    db.session.commit()
    client = login(app.test_client(), partner.user)
    sent = form_inputs(client.get("/cp/profile").get_data(as_text=True).split('id="bank-card"')[1])
    assert client.post("/cp/profile/bank", data={**sent, "bank_routing_number": "021000021"}).status_code == 302
    partner = fresh(partner)
    assert (partner.kyc_status, partner.kyc_reviewed_by, partner.kyc_note) == ("unverified", None, None)
    assert partner.bank_account_number == "12345678901"  # the masked fields were kept
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "partner.bank_details_changed"))
    assert event.actor_id == partner.user_id and event.after["changed"] == ["bank_routing_number"]
    assert (event.before["kyc_status"], event.after["kyc_status"]) == ("verified", "unverified")
    assert event.before["bank_iban"] == event.after["bank_iban"] == "•" * 18 + "3000"
    assert IBAN_COMPACT not in str(event.before) + str(event.after)
    note = db.session.scalar(sa.select(Notification).where(Notification.event == "bank_details_changed"))
    assert note.user_id == admin.id and "KYC is back to unverified" in note.message and "routing number" in note.message
    assert any(m["To"] == admin.email and m["Subject"] == "Bank details changed" for m in mail_outbox)
    assert db.session.scalar(sa.select(EmailOutbox.status).where(EmailOutbox.to_email == admin.email)) == "sent"
    cp_page = client.get("/cp/profile").get_data(as_text=True)
    assert 'data-kyc="unverified"' in cp_page and "Waiting for an admin to verify them." in cp_page


# --- rotate-key -------------------------------------------------------------------------------------


def test_rotate_key_re_encrypts_every_value_so_the_old_key_can_go(app):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    saved = app.config.get("ENCRYPTION_KEYS")
    try:
        app.config["ENCRYPTION_KEYS"] = key_a
        partners = [factories.make_partner(bank_account_number=f"ACC{n:08d}") for n in range(7)]
        partners[0].bank_iban, partners[0].tax_id = IBAN_COMPACT, "TAX-1"
        bare = factories.make_partner(bank_account_number=None)
        db.session.commit()
        before = raw_row(partners[0])
        app.config["ENCRYPTION_KEYS"] = f"{key_b},{key_a}"
        result = app.test_cli_runner().invoke(args=["rotate-key", "--batch-size", "3"])
        assert result.exit_code == 0, result.output
        assert "channel_partners.bank_account_number: 7 re-encrypted, 0 already on the first key" in result.output
        assert "channel_partners.bank_iban: 1 re-encrypted" in result.output
        assert raw_row(partners[0])["bank_iban"] != before["bank_iban"]
        second = app.test_cli_runner().invoke(args=["rotate-key"])
        assert "channel_partners.bank_account_number: 0 re-encrypted, 7 already on the first key" in second.output
        app.config["ENCRYPTION_KEYS"] = key_b  # the old key is gone: everything still reads
        db.session.expire_all()
        assert [fresh(p).bank_account_number for p in partners] == [f"ACC{n:08d}" for n in range(7)]
        assert (fresh(partners[0]).bank_iban, fresh(partners[0]).tax_id) == (IBAN_COMPACT, "TAX-1")
        assert fresh(bare).bank_account_number is None
        app.config["ENCRYPTION_KEYS"] = Fernet.generate_key().decode()  # a key that never wrote anything
        lost = app.test_cli_runner().invoke(args=["rotate-key"])
        assert lost.exit_code != 0 and "cannot be read with any key of ENCRYPTION_KEYS" in lost.output
    finally:
        app.config["ENCRYPTION_KEYS"] = saved
        db.session.rollback()


def test_rotation_never_overwrites_a_value_changed_meanwhile(app):
    """The compare-and-set: a row rewritten between the read and the write keeps the newer value."""
    from app import crypto

    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    saved = app.config.get("ENCRYPTION_KEYS")
    try:
        app.config["ENCRYPTION_KEYS"] = key_a
        partner = factories.make_partner(bank_account_number="OLD-0001")
        db.session.commit()
        app.config["ENCRYPTION_KEYS"] = f"{key_b},{key_a}"
        real_rotate = crypto.MultiFernet.rotate

        def rotate_after_an_edit(self, token):
            with db.engine.begin() as conn:  # the partner saves a new number while the batch runs
                edit = sa.text("UPDATE channel_partners SET bank_account_number = :v WHERE id = :id")
                conn.execute(
                    edit.bindparams(sa.bindparam("id", type_=sa.Uuid)), {"v": encrypt("NEW-0002"), "id": partner.id}
                )
            return real_rotate(self, token)

        crypto.MultiFernet.rotate = rotate_after_an_edit
        try:
            counts = crypto.rotate_keys()
        finally:
            crypto.MultiFernet.rotate = real_rotate
        assert counts["channel_partners.bank_account_number"] == {"rotated": 0, "current": 0, "changed": 1}
        assert fresh(partner).bank_account_number == "NEW-0002"
    finally:
        app.config["ENCRYPTION_KEYS"] = saved


# --- production ---------------------------------------------------------------------------------------


def test_production_refuses_to_start_without_encryption_keys(app):
    saved = {k: app.config.get(k) for k in ("CONFIG_NAME", "SECRET_KEY", "ENCRYPTION_KEYS")}
    try:
        app.config.update(CONFIG_NAME="production", SECRET_KEY="s" * 40, ENCRYPTION_KEYS=None)
        with pytest.raises(ConfigurationError, match="ENCRYPTION_KEYS must be set in production") as missing:
            check_config(app)
        assert "Fernet.generate_key().decode()" in str(missing.value)
        app.config["ENCRYPTION_KEYS"] = "not-a-fernet-key"
        with pytest.raises(ConfigurationError, match="entry 1 is not a Fernet key"):
            check_config(app)
        app.config["ENCRYPTION_KEYS"] = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"
        check_config(app)
    finally:
        app.config.update(saved)


# --- the migration ------------------------------------------------------------------------------------


def _migrate_partners_with_plain_numbers(database: str) -> None:
    """Two partners written by the schema before a1f0c0de0006 (one with a plain account number), then upgraded."""
    done = flask("db", "upgrade", "a1f0c0de0003", database=database)
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    user = sa.text(
        "INSERT INTO users (id, email, password_hash, name, role, status, must_change_password, session_version, "
        "email_muted_events, created_at, updated_at) VALUES (:id, :email, 'x', 'Old', 'channel_partner', 'active', "
        "false, 1, '[]', :now, :now)"
    ).bindparams(sa.bindparam("id", type_=sa.Uuid), sa.bindparam("now", type_=sa.DateTime))
    partner = sa.text(
        "INSERT INTO channel_partners (id, user_id, company_name, status, bank_account_number, created_at, "
        "updated_at) VALUES (:id, :user_id, :name, 'approved', :number, :now, :now)"
    ).bindparams(
        sa.bindparam("id", type_=sa.Uuid),
        sa.bindparam("user_id", type_=sa.Uuid),
        sa.bindparam("now", type_=sa.DateTime),
    )
    with engine.begin() as conn:
        for n, number in enumerate(("001234567890", None)):
            user_id, now = uuid.uuid4(), datetime(2026, 1, 1)
            conn.execute(user, {"id": user_id, "email": f"old{n}@x.test", "now": now})
            conn.execute(
                partner, {"id": uuid.uuid4(), "user_id": user_id, "name": f"Old {n}", "number": number, "now": now}
            )
    upgraded = flask("db", "upgrade", "a1f0c0de0006", database=database)
    assert upgraded.returncode == 0, upgraded.stderr
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT code, bank_account_number, kyc_status, tier FROM channel_partners")).all()
    engine.dispose()
    numbers = [number for _code, number, _kyc, _tier in rows if number]
    assert len(rows) == 2 and len(numbers) == 1
    assert numbers[0].startswith("gAAAAA") and "001234567890" not in numbers[0]
    from config import DevelopmentConfig  # the migration ran with the development configuration's key

    with app_with_keys(DevelopmentConfig.SECRET_KEY):
        assert decrypt(numbers[0]) == "001234567890"
    codes = [code for code, *_ in rows]
    assert len(set(codes)) == 2 and all(re.fullmatch(r"CP-[2-9A-HJKMNP-Z]{6}", code) for code in codes)
    assert {(kyc, tier) for _c, _n, kyc, tier in rows} == {("unverified", "bronze")}


def app_with_keys(secret_key: str):
    from app import create_app

    return create_app("test", SECRET_KEY=secret_key, SQLALCHEMY_DATABASE_URI="sqlite://").app_context()


def test_the_migration_encrypts_existing_account_numbers_on_sqlite(tmp_path):
    _migrate_partners_with_plain_numbers(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.skipif(not is_postgres(), reason="needs PostgreSQL: set TEST_DATABASE_URL")
def test_the_migration_encrypts_existing_account_numbers_on_postgres():
    server = sa.make_url(database_url().replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"leadflow_kyc_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        _migrate_partners_with_plain_numbers(
            server.set(database=name).render_as_string(hide_password=False).replace("+psycopg", "")
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
