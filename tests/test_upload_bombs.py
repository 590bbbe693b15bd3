"""Decompression and pixel bombs (issue 15 item 5): refused from the header, cheaply, through the real forms.

The corpus is made here, small on disk and huge once decoded: a 9,400 x 9,400 PNG of ~260 KB (what cost
330 MB and 4.5 s to accept), JPEG / WebP / GIF headers claiming huge canvases, a progressive JPEG and an
RGBA PNG whose decoding would overrun the memory budget, many-frame APNG and WebP, PNG text and ICC chunks
that inflate to megabytes, and Office zip bombs. Each is posted as a CP's logo, an avatar and lead
evidence; each answer is 422 with the message beside the field and nothing stored. A separate process
checks the whole corpus and reports its peak memory, which must stay small.
"""

import html
import io
import json
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from app.extensions import db
from app.models import StoredFile
from app.portals.lead_forms import prefix_for
from tests import factories
from tests.report_summary import record
from tests.storage_support import jpeg_bytes, png_bytes, stored_keys

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
PIXELS = "too large in pixels"
FRAMES = "too many frames"
METADATA = "too much embedded text or colour-profile data"


# --- the corpus -----------------------------------------------------------------------------------


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 9400) -> bytes:
    """An RGB PNG of side x side black pixels: ~260 KB of file, 265 MB of pixels (compressed row by row)."""
    packer, row = zlib.compressobj(9), b"\0" * (1 + side * 3)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_header(width: int, height: int) -> bytes:
    """An RGBA PNG whose header claims width x height (within the pixel limit, not the decoding budget)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_with(extra_chunks: list[bytes]) -> bytes:
    data = png_bytes((8, 8))
    end = data.rindex(b"IEND") - 4
    return data[:end] + b"".join(extra_chunks) + data[end:]


def text_bomb() -> bytes:
    """40 zTXt chunks of ~1 KB, each inflating to 1 MB (Pillow would inflate up to 64 MB of them)."""
    body = zlib.compress(b"A" * MB, 9)
    return png_with([chunk(b"zTXt", b"k%d\0\0" % n + body) for n in range(40)])


def itxt_bomb() -> bytes:
    return png_with([chunk(b"iTXt", b"Comment\0\1\0en\0\0" + zlib.compress(b"B" * 8 * MB, 9))])


def icc_bomb() -> bytes:
    return png_with([chunk(b"iCCP", b"icc\0\0" + zlib.compress(b"\0" * 16 * MB, 9))])


def small_image(fmt: str, **options) -> bytearray:
    buffer = io.BytesIO()
    Image.new("RGB" if fmt != "GIF" else "P", (16, 16), 3).save(buffer, fmt, **options)
    return bytearray(buffer.getvalue())


def jpeg_header(width: int, height: int, progressive: bool = False) -> bytes:
    data = small_image("JPEG", progressive=progressive, subsampling=0)
    at = data.index(b"\xff\xc2" if progressive else b"\xff\xc0") + 5  # marker, length, precision: then h, w
    data[at : at + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_header(width: int, height: int) -> bytes:
    data = small_image("WEBP", quality=50)
    at = data.index(b"\x9d\x01\x2a") + 3  # the VP8 start code, then 14-bit width and height
    data[at : at + 4] = struct.pack("<HH", width, height)
    return bytes(data)


def gif_header(width: int, height: int) -> bytes:
    data = small_image("GIF")
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def animated(fmt: str, frames: int, size=(8, 8)) -> bytes:
    images = [Image.new("RGB", size, (n % 256, n * 7 % 256, n * 13 % 256)) for n in range(frames)]
    buffer = io.BytesIO()
    options = {"lossless": True} if fmt == "WEBP" else {}
    images[0].save(buffer, fmt, save_all=True, append_images=images[1:], duration=10, **options)
    return buffer.getvalue()


def zip_document(folder: str, parts: list[tuple[str, int]], empty_parts: int = 0) -> bytes:
    """An Office-shaped zip whose parts are `size` bytes of zeros (deflated ~1000:1), written 1 MB at a time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for name, size in parts:
            info = zipfile.ZipInfo(folder + name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as part:
                for _ in range(size // MB):
                    part.write(b"\0" * MB)
        for n in range(empty_parts):
            archive.writestr(f"{folder}part{n}.xml", "")
    return buffer.getvalue()


def build_corpus() -> list[tuple[str, bytes, str, bool]]:
    """(file name, bytes, what the refusal says, image?)."""
    images = [
        ("bomb-9400.png", png_bomb(), PIXELS),
        ("rgba-39mp.png", png_header(6500, 6000), PIXELS),  # 39 MP: under the pixel limit, 156 MB to decode
        ("huge.jpg", jpeg_header(30000, 30000), PIXELS),
        ("progressive.jpg", jpeg_header(7000, 5500, progressive=True), PIXELS),  # 231 MB of DCT coefficients
        ("huge.webp", webp_header(16383, 16383), PIXELS),
        ("frames.png", animated("PNG", 200), FRAMES),
        ("frames.webp", animated("WEBP", 200), FRAMES),
        ("big-frames.png", animated("PNG", 50, (1000, 1000)), PIXELS),  # 50 MP over all its frames
        ("ztxt.png", text_bomb(), METADATA),
        ("itxt.png", itxt_bomb(), METADATA),
        ("icc.png", icc_bomb(), METADATA),
        ("huge-gif.png", gif_header(20000, 20000), "does not match its .png extension"),
        ("huge.gif", gif_header(20000, 20000), "not accepted"),
    ]
    documents = [
        ("bomb.docx", zip_document("word/", [("document.xml", 150 * MB)]), "would unpack to 150 MB"),
        ("tight.xlsx", zip_document("xl/", [("worksheets/sheet1.xml", 20 * MB)]), "compressed suspiciously"),
        ("parts.docx", zip_document("word/", [], empty_parts=6000), "too many parts"),
    ]
    return [(n, d, m, True) for n, d, m in images] + [(n, d, m, False) for n, d, m in documents]


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


# --- through the forms ----------------------------------------------------------------------------


def post_logo(client, name, data, _lead):
    return client.post("/cp/profile/logo", data={"logo": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def post_avatar(client, name, data, _lead):
    form = {"avatar": (io.BytesIO(data), name), "action": "upload"}
    return client.post("/account", data=form, content_type="multipart/form-data")


def post_evidence(client, name, data, lead):
    prefix = prefix_for(lead)
    form = {f"{prefix}-file": (io.BytesIO(data), name), f"{prefix}-description": "bomb"}
    return client.post(f"/cp/leads/{lead.id}/evidence", data=form, content_type="multipart/form-data")


FORMS = {"logo": (post_logo, True), "avatar": (post_avatar, True), "evidence": (post_evidence, False)}


def stored_count() -> int:
    return db.session.scalar(db.select(db.func.count(StoredFile.id)))


@pytest.mark.parametrize("form", FORMS)
def test_every_bomb_is_refused_at_each_upload_form_with_the_reason_beside_the_field(app, login_as, corpus, form):
    post, images_only = FORMS[form]
    partner = factories.make_partner()
    lead = factories.make_lead(assignee=partner)
    db.session.commit()
    client = login_as(partner.user)
    keys, rows = stored_keys(app), stored_count()
    tried = refused = 0
    for name, data, message, is_image in corpus:
        if images_only and not is_image:
            message = "not accepted"  # an avatar or logo form takes images only
        started = time.perf_counter()
        response = post(client, name, data, lead)
        elapsed = time.perf_counter() - started
        tried += 1
        body = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 422, (form, name, response.status_code)
        assert message in body, (form, name, message)
        assert 'class="invalid-feedback' in body or "is-invalid" in body, (form, name)  # beside the field
        assert elapsed < 2, (form, name, elapsed)
        refused += 1
    assert stored_keys(app) == keys and stored_count() == rows
    record("upload_bombs", tried=tried, refused=refused, stored=0)


def test_ordinary_images_and_documents_are_still_accepted(app, login_as):
    partner = factories.make_partner()
    lead = factories.make_lead(assignee=partner)
    db.session.commit()
    client = login_as(partner.user)
    photo = io.BytesIO()
    Image.new("RGB", (4000, 3000), (120, 80, 40)).save(photo, "JPEG", quality=70)  # a 12 MP phone photo
    assert post_logo(client, "logo.png", png_bytes((400, 200)), lead).status_code in (302, 303)
    assert post_avatar(client, "me.webp", bytes(small_image("WEBP")), lead).status_code in (302, 303)
    assert post_evidence(client, "site.jpg", photo.getvalue(), lead).status_code in (200, 302, 303)
    sheet = zip_document("xl/", [("worksheets/sheet1.xml", 0)])
    assert post_evidence(client, "rows.xlsx", sheet, lead).status_code in (200, 302, 303)
    assert stored_count() == 4


CHECK_SCRIPT = """
import json, sys, time
from pathlib import Path
from app.files.checks import UploadRejected, check_content
from PIL import Image


def status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])


files = [(p.name, p.read_bytes()) for p in sorted(Path(sys.argv[1]).iterdir())]
Image.init()  # every format plugin loaded before the baseline: the measure is the checks, not the imports
Path("/proc/self/clear_refs").write_text("5")  # reset this process's peak RSS (VmHWM) to what it uses now
baseline = status_kb("VmRSS")
results, slowest = {}, 0.0
for name, data in files:
    started = time.perf_counter()
    try:
        check_content(data, name.rpartition(".")[2], ("image", "pdf", "document"), 10 << 20)
        results[name] = "accepted"
    except UploadRejected as exc:
        results[name] = str(exc)
    slowest = max(slowest, time.perf_counter() - started)
print(json.dumps({"results": results, "extra_mb": (status_kb("VmHWM") - baseline) / 1024, "slowest": slowest}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux /proc")
def test_checking_the_whole_corpus_costs_little_memory_and_time(corpus, tmp_path):
    """In a fresh process (peak RSS is per process): every bomb refused, plus a 12 MP JPEG accepted, for
    under 50 MB above the baseline and well under a second each (the 9,400 px PNG alone took 330 MB)."""
    for name, data, _message, _is_image in corpus:
        (tmp_path / name).write_bytes(data)
    photo = io.BytesIO()
    Image.new("RGB", (4000, 3000), (120, 80, 40)).save(photo, "JPEG", quality=70)
    (tmp_path / "zz-photo.jpg").write_bytes(photo.getvalue())
    (tmp_path / "zz-small.jpg").write_bytes(jpeg_bytes((64, 64)))
    run = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    results = report["results"]
    assert results.pop("zz-photo.jpg") == "accepted" and results.pop("zz-small.jpg") == "accepted"
    expected = {name: message for name, _data, message, _is_image in corpus}
    wrong = {name: text for name, text in results.items() if expected[name] not in text}
    assert not wrong, wrong
    assert report["extra_mb"] < 50, report["extra_mb"]
    assert report["slowest"] < 1.0, report["slowest"]
    record("upload_bombs", checked_in_isolation=len(corpus), peak_extra=f"{report['extra_mb']:.1f} MB")
