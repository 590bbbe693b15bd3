"""flask backup / restore / restore-drill / reconcile-money, run as an operator runs them, on the suite's
database (PostgreSQL in CI: pg_dump, pg_restore and a scratch database; SQLite locally: the backup API)."""

import base64
import json
import os
import tempfile
import uuid
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.files import storage
from app.models import CommissionTransaction, StoredFile
from app.ops.drill import scratch_database
from tests.conftest import make_app
from tests.storage_support import backend_config, png_bytes, s3_endpoint  # noqa: F401  (fixture)
from tests.world import build_world

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def cli(app, *args):
    """Run `flask <args>` against `app` (its own app context: the command must not see the test's app)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=[str(a) for a in args])


def only_set(folder: Path) -> Path:
    (found,) = [p for p in folder.iterdir()]
    assert found.name.startswith("leadflow-") and (found / "manifest.json").is_file()
    return found


def table_rows(url: str | None = None) -> dict[str, list]:
    """Every row of every table, ordered by primary key: the database's whole content."""
    engine = sa.create_engine(url) if url else db.engine
    with engine.connect() as connection:
        rows = {
            t.name: [tuple(r) for r in connection.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in db.metadata.sorted_tables
        }
    if url:
        engine.dispose()
    return rows


def _sql(statement: str, row_id) -> None:
    """Change a row behind the services' and the rollup hook's back."""
    db.session.execute(sa.text(statement), {"id": row_id if db.engine.dialect.name == "postgresql" else row_id.hex})
    db.session.commit()


@pytest.fixture
def world(app):
    built = build_world()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommissionTransaction)) >= 5
    return built


@pytest.fixture
def out(tmp_path):
    return tmp_path / "backups"


def test_backup_then_restore_into_an_empty_database_gives_the_same_rows_and_files(app, world, out):
    answer = cli(app, "backup", "--to", out)
    assert answer.exit_code == 0, answer.output
    backup = only_set(out)
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["row_counts"]["commission_transactions"] == len(table_rows()["commission_transactions"])
    files = db.session.scalars(sa.select(StoredFile)).all()
    assert {f.storage_key for f in files} <= {p["key"] for p in manifest["parts"] if "key" in p}

    with scratch_database(app.config["SQLALCHEMY_DATABASE_URI"]) as url:
        restored = make_app(SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_DIR=tempfile.mkdtemp(prefix="restored-"))
        answer = cli(restored, "restore", backup)
        assert answer.exit_code == 0, answer.output
        assert table_rows(url) == table_rows()
        for row in files:
            assert _read(restored, row) == _read(app, row)

        answer = cli(restored, "restore", backup)  # a second time: the database now has tables
        assert answer.exit_code == 1 and "not empty" in answer.output


def _read(app, row) -> bytes:
    with app.app_context():
        return storage.read_bytes(row)


def test_restore_refuses_a_database_with_tables(app, world, out):
    assert cli(app, "backup", "--to", out).exit_code == 0
    before = table_rows()
    answer = cli(app, "restore", only_set(out))
    assert answer.exit_code == 1
    assert "the target database is not empty; restore only into an empty database" in answer.output
    assert table_rows() == before


def test_encrypted_round_trip_and_a_wrong_key(app, world, out, monkeypatch):
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", KEY)
    assert cli(app, "backup", "--to", out, "--encrypt").exit_code == 0
    backup = only_set(out)
    slip = db.session.get(StoredFile, world["ids"]["fee_slip"])
    sealed = (backup / "files" / slip.storage_key).read_bytes()
    assert b"%PDF" not in sealed and sealed.startswith(b"LFBK1")
    dump = backup / json.loads((backup / "manifest.json").read_text())["database"]["part"]
    assert dump.read_bytes().startswith(b"LFBK1")  # not pg_dump's "PGDMP" nor "SQLite format 3"

    with scratch_database(app.config["SQLALCHEMY_DATABASE_URI"]) as url:
        store = tempfile.mkdtemp(prefix="restored-")
        wrong = make_app(SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_DIR=store, BACKUP_ENCRYPTION_KEY="x" * 43)
        answer = cli(wrong, "restore", backup)
        assert (
            answer.exit_code == 1
            and "BACKUP_ENCRYPTION_KEY is not the key this set was encrypted with" in answer.output
        )
        restored = make_app(SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_DIR=store, BACKUP_ENCRYPTION_KEY=KEY)
        answer = cli(restored, "restore", backup)
        assert answer.exit_code == 0, answer.output
        assert table_rows(url) == table_rows()
        assert (Path(store) / slip.storage_key).read_bytes() == _read(app, slip)


def test_a_tampered_backup_is_refused_before_the_database_is_touched(app, world, out):
    assert cli(app, "backup", "--to", out).exit_code == 0
    backup = only_set(out)
    slip = db.session.get(StoredFile, world["ids"]["fee_slip"])
    path = backup / "files" / slip.storage_key
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOX"))
    with scratch_database(app.config["SQLALCHEMY_DATABASE_URI"]) as url:
        answer = cli(app, "restore", backup, "--database-url", url)
        assert answer.exit_code == 1
        assert (
            f"files/{slip.storage_key}: checksum differs" in answer.output and "nothing was restored" in answer.output
        )
        engine = sa.create_engine(url)
        assert sa.inspect(engine).get_table_names() == []
        engine.dispose()


def test_a_set_without_its_manifest_is_never_restored(app, world, out):
    answer = cli(app, "backup", "--to", out, "--encrypt")  # no key configured: refused before anything is written
    assert answer.exit_code == 1 and "BACKUP_ENCRYPTION_KEY is not set" in answer.output
    assert not out.exists() or not list(out.iterdir())
    assert cli(app, "backup", "--to", out).exit_code == 0
    (only_set(out) / "manifest.json").unlink()  # as if the backup had died before its last write
    answer = cli(app, "restore-drill", out)
    assert answer.exit_code == 1 and "no complete backup set there" in answer.output


def test_a_backup_that_fails_half_way_leaves_nothing_behind(app, out, s3_endpoint):  # noqa: F811
    unreachable = make_app(**{**backend_config("s3", s3_endpoint), "S3_BUCKET": "no-such-bucket"})
    answer = cli(unreachable, "backup", "--to", out)  # the dump is staged, then listing the files fails
    assert answer.exit_code == 1 and "NoSuchBucket" in answer.output
    assert list(out.iterdir()) == []


def test_the_drill_passes_on_a_good_backup_and_fails_on_altered_money(app, world, out):
    assert cli(app, "reconcile-money").exit_code == 0
    assert cli(app, "backup", "--to", out / "good").exit_code == 0
    answer = cli(app, "restore-drill", out / "good")  # the directory: its newest complete set
    assert answer.exit_code == 0, answer.output
    assert "money, rollups and files all reconcile" in answer.output

    # A fee changed behind the services' back (commission == fee + net still holds, so the table allows it).
    tx_id = world["ids"]["fee_settled_tx"]
    _sql(
        "UPDATE commission_transactions SET platform_fee = platform_fee + 1, net_commission = net_commission - 1"
        " WHERE id = :id",
        tx_id,
    )
    answer = cli(app, "reconcile-money")
    assert answer.exit_code == 1 and "fees generated" in answer.output
    assert cli(app, "backup", "--to", out / "bad").exit_code == 0
    answer = cli(app, "restore-drill", out / "bad")
    assert answer.exit_code == 1
    partner = world["ids"]["partner"]
    assert f"money: partner {partner}: fees generated" in answer.output and "(off by 1.00)" in answer.output
    assert "money: fee-settlement line not equal to its transaction's fee: 1 row(s)" in answer.output
    assert "money: lead's platform fee differs from its transaction's: 1 row(s): " + str(tx_id) in answer.output
    assert "rollups: " in answer.output and "restore drill of leadflow-" in answer.output
    _assert_no_scratch_database_left(app)


def _assert_no_scratch_database_left(app):
    if db.engine.dialect.name == "postgresql":
        names = db.session.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'leadflow_drill_%'"))
        assert list(names) == []


def test_the_drill_names_a_file_missing_from_the_backup(app, world, out):
    assert cli(app, "backup", "--to", out).exit_code == 0
    backup = only_set(out)
    manifest = json.loads((backup / "manifest.json").read_text())
    slip = db.session.get(StoredFile, world["ids"]["fee_slip"])
    manifest["parts"] = [p for p in manifest["parts"] if p.get("key") != slip.storage_key]
    (backup / "manifest.json").write_text(json.dumps(manifest))
    answer = cli(app, "restore-drill", backup)
    assert answer.exit_code == 1
    assert f"file {slip.storage_key}: named by the database, missing from the backup" in answer.output


def test_s3_storage_to_an_s3_target_and_back(app, s3_endpoint):  # noqa: F811
    bucket = f"backups-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    s3.create_bucket(Bucket=bucket)
    on_s3 = make_app(**backend_config("s3", s3_endpoint), BACKUP_ENCRYPTION_KEY=KEY)
    with on_s3.app_context():
        picture = storage.save_bytes(png_bytes(), "logo", "logo.png", "image/png")
        db.session.commit()
        key, size = picture.storage_key, picture.size_bytes
    answer = cli(on_s3, "backup", "--to", f"s3://{bucket}/nightly", "--encrypt")
    assert answer.exit_code == 0, answer.output
    names = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(n.endswith(f"/files/{key}") for n in names) and any(n.endswith("/manifest.json") for n in names)

    assert cli(on_s3, "restore-drill", f"s3://{bucket}/nightly").exit_code == 0
    with scratch_database(app.config["SQLALCHEMY_DATABASE_URI"]) as url:
        store = tempfile.mkdtemp(prefix="restored-")
        restored = make_app(
            SQLALCHEMY_DATABASE_URI=url,
            STORAGE_LOCAL_DIR=store,
            BACKUP_ENCRYPTION_KEY=KEY,
            BACKUP_S3_ENDPOINT_URL=s3_endpoint,
            BACKUP_S3_ACCESS_KEY_ID="test",
            BACKUP_S3_SECRET_ACCESS_KEY="test",
        )
        answer = cli(restored, "restore", f"s3://{bucket}/nightly")
        assert answer.exit_code == 0, answer.output
        assert (Path(store) / key).read_bytes() == png_bytes() and os.path.getsize(Path(store) / key) == size
        assert table_rows(url)["stored_files"] == table_rows()["stored_files"]


def test_names_that_would_leave_the_set_are_refused_before_anything_is_written(app, world, out, s3_endpoint):  # noqa: F811
    """A set comes from a bucket or a directory others may write to: neither an object key nor a manifest name may
    place a file outside the set (or read one from outside it into the storage)."""
    escape = f"escaped-{uuid.uuid4().hex}"
    bucket = f"hostile-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="set/manifest.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key=f"set/files/../../../{escape}", Body=b"planted")
    reader = make_app(
        BACKUP_S3_ENDPOINT_URL=s3_endpoint, BACKUP_S3_ACCESS_KEY_ID="test", BACKUP_S3_SECRET_ACCESS_KEY="x"
    )
    answer = cli(reader, "restore-drill", f"s3://{bucket}/set")
    assert answer.exit_code == 1 and "is not a name inside a backup set" in answer.output, answer.output
    assert not (Path(tempfile.gettempdir()) / escape).exists()

    assert cli(app, "backup", "--to", out).exit_code == 0
    backup = only_set(out)
    manifest = json.loads((backup / "manifest.json").read_text())
    outside = out.parent / "outside.txt"
    outside.write_text("not part of any backup")
    manifest["parts"][-1]["name"] = "../../outside.txt"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with scratch_database(app.config["SQLALCHEMY_DATABASE_URI"]) as url:
        answer = cli(app, "restore", backup, "--database-url", url)
        assert answer.exit_code == 1 and "'../../outside.txt' is not a name inside a backup set" in answer.output
        engine = sa.create_engine(url)
        assert sa.inspect(engine).get_table_names() == []
        engine.dispose()


def test_reconcile_money_names_a_settlement_and_a_fee_payment_that_disagree(app, world):
    assert cli(app, "reconcile-money").exit_code == 0
    settlement, payment = world["ids"]["fee_settlement"], world["ids"]["completed_payment"]
    _sql("UPDATE platform_fee_settlements SET amount = amount + 5 WHERE id = :id", settlement)
    _sql("UPDATE cp_payments SET amount = amount - 1 WHERE id = :id", payment)
    answer = cli(app, "reconcile-money")
    assert answer.exit_code == 1 and "2 money difference(s)" in answer.output
    assert f"fee settlement whose amount or lead count differs from its lines: 1 row(s): {settlement}" in answer.output
    assert f"completed fee payment not equal to the fee of a directly paid transaction: 1 row(s): {payment}" in (
        answer.output
    )
