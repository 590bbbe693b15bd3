"""Helpers for the storage tests: sample files, a moto S3 server, and app configs for both backends."""

import io
import os
import socket
import tempfile
import zipfile

import pytest
from PIL import Image

BUCKET = "leadflow-test"


def png_bytes(size=(16, 16), colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in (("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<w:document/>")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)  # same bytes every call
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free local port, with the test bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    client.create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def backend_config(kind: str, s3_url: str | None) -> dict:
    if kind == "local":
        return {"STORAGE_BACKEND": "local", "STORAGE_LOCAL_DIR": tempfile.mkdtemp(prefix="leadflow-store-")}
    return {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": BUCKET,
        "S3_REGION": "us-east-1",
        "S3_ENDPOINT_URL": s3_url,
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }


def stored_keys(app) -> set[str]:
    """Every key the app's backend currently holds."""
    config = app.config
    if config["STORAGE_BACKEND"] == "s3":
        from app.files.backends import S3Backend

        backend = S3Backend(config)
        answer = backend.client.list_objects_v2(Bucket=config["S3_BUCKET"])
        return {item["Key"] for item in answer.get("Contents", [])}
    root = config["STORAGE_LOCAL_DIR"]
    return {
        os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
        for folder, _dirs, names in os.walk(root)
        for name in names
    }
