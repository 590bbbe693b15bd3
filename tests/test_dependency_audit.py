"""The dependency audit (`python -m app.tools.dependency_audit`) as CI runs it: against the real index for a pin
known to be vulnerable, and against a local index serving crafted project JSON for every answer it must classify."""

import json
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HASH = "--hash=sha256:" + "0" * 64  # the audit reads pins; a lock line carries its hashes, so ours do too


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _project(latest: str, releases: dict[str, int], vulns=(), yanked=()) -> dict:
    """Project JSON shaped as the index serves it: releases aged in days, the vulnerabilities of the latest one."""
    files = {
        version: [{"upload_time_iso_8601": _days_ago(age), "yanked": version in yanked, "yanked_reason": "broken"}]
        for version, age in releases.items()
    }
    return {"info": {"name": "x", "version": latest}, "releases": files, "vulnerabilities": list(vulns)}


def _vuln(vuln_id: str, fixed_in=(), withdrawn=None) -> dict:
    return {"id": vuln_id, "aliases": [], "fixed_in": list(fixed_in), "withdrawn": withdrawn, "link": "", "summary": ""}


PROJECTS = {
    "clean": _project("1.0", {"0.9": 400, "1.0": 300}),
    "vulnerable": _project("1.0", {"1.0": 300}, [_vuln("PYSEC-0000-1")]),
    "withdrawn": _project("1.0", {"1.0": 300}, [_vuln("GHSA-wdrn", withdrawn="2026-01-01T00:00:00Z")]),
    "yanked": _project("1.1", {"1.0": 300, "1.1": 2}, yanked=("1.0",)),
    "lagging": _project("1.1", {"1.0": 300, "1.1": 2}),
    "stale": _project("2.0", {"1.0": 300, "1.1": 30, "2.0": 3}),
    "unfixed-old": _project("2.0", {"1.0": 300, "2.0": 2}, [_vuln("PYSEC-0000-2", fixed_in=["2.1"])]),
    "fixed-old": _project("2.0", {"1.5": 300, "2.0": 2}, [_vuln("PYSEC-0000-3", fixed_in=["1.4", "2.1"])]),
    "accepted": _project("2.0", {"1.0": 300, "2.0": 90}),
    "expired": _project("2.0", {"1.0": 300, "2.0": 90}),
    "newer-than-latest": _project("1.0", {"1.0": 300, "2.0rc1": 1}),
    "unknown-version": _project("1.0", {"1.0": 300}),
    "bad-shape": {"info": {"version": "1.0"}},
}
EXPECTED = {
    "clean==1.0": "ok",
    "vulnerable==1.0": "vulnerable",
    "withdrawn==1.0": "ok",
    "yanked==1.0": "yanked",
    "lagging==1.0": "lagging",
    "stale==1.0": "unchecked",
    "unfixed-old==1.0": "vulnerable",
    "fixed-old==1.5": "lagging",
    "accepted==1.0": "accepted",
    "expired==1.0": "unchecked",
    "newer-than-latest==2.0rc1": "unchecked",
    "unknown-version==0.5": "unchecked",
    "bad-shape==1.0": "unchecked",
    "missing==1.0": "unchecked",  # 404
    "not-json==1.0": "unchecked",  # 200 with an HTML body
    "loose>=1.0": "unchecked",  # not pinned to one version
}
TOMORROW, YESTERDAY = date.today() + timedelta(days=1), date.today() - timedelta(days=1)
ACCEPT = f"""# audit-accept: accepted==1.0 until {TOMORROW}: dependent-x caps accepted<2
# audit-accept: expired==1.0 until {YESTERDAY}: dependent-y caps expired<2
"""


class _Index(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server hook name)
        name = self.path.strip("/").split("/")[1]
        if name == "not-json":
            return self._answer(200, b"<html>maintenance</html>", "text/html")
        if name not in PROJECTS:
            return self._answer(404, b'{"message": "Not Found"}', "application/json")
        return self._answer(200, json.dumps(PROJECTS[name]).encode(), "application/json")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _free_port() -> int:
    for port in range(5500, 5600):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 5500-5599")


@pytest.fixture(scope="module")
def index():
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/pypi"
    server.shutdown()
    server.server_close()


def run_audit(tmp_path: Path, pins, *args: str, json_base: str | None = None):
    """Run the audit as CI does; returns its exit status, its output and its JSON report."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("".join(f"{pin} \\\n    {HASH}\n" for pin in pins))
    report = tmp_path / "audit.json"
    env = {k: v for k, v in os.environ.items() if k != "LEADFLOW_AUDIT_JSON_BASE"}
    if json_base:
        env["LEADFLOW_AUDIT_JSON_BASE"] = json_base
    command = [sys.executable, "-m", "app.tools.dependency_audit", str(lock), "-o", str(report), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, json.loads(report.read_text())


def test_fails_on_a_known_vulnerable_pin_through_the_real_index(tmp_path):
    """pycrypto 2.6.1 is its project's last release and carries four advisories; the index is the one pip uses."""
    status, out, report = run_audit(tmp_path, ["pycrypto==2.6.1"])
    assert status == 1, out
    assert report["index"] == "https://pypi.org/pypi"
    [finding] = report["findings"]
    assert finding["status"] == "vulnerable"
    assert "PYSEC-2017-94" in {v["id"] for v in finding["vulnerabilities"]}
    assert "VULNERABLE pycrypto==2.6.1" in out and "1 vulnerable" in out


def test_classifies_every_answer_of_the_index(tmp_path, index):
    accept = tmp_path / "requirements.in"
    accept.write_text(ACCEPT)
    status, out, report = run_audit(tmp_path, EXPECTED, "--accept", str(accept), json_base=index)
    got = {f"{f['name']}=={f['version']}" if f["version"] else f["name"]: f["status"] for f in report["findings"]}
    assert got == EXPECTED
    assert status == 1
    summary = report["summary"]
    assert (summary["packages"], summary["ok"], summary["vulnerable"], summary["unchecked"]) == (16, 2, 2, 8)
    assert "UNCHECKED  missing==1.0  index answered HTTP 404" in out
    assert "ACCEPTED   accepted==1.0" in out and "dependent-x caps accepted<2" in out
    assert "acceptance ended" in next(line for line in out.splitlines() if "expired==1.0" in line)


def test_passes_a_clean_lock(tmp_path, index):
    """A lock whose pins are clean, withdrawn-only, briefly lagging or accepted passes, and says what it skipped."""
    accept = tmp_path / "requirements-dev.in"
    accept.write_text(ACCEPT)
    pins = ["clean==1.0", "withdrawn==1.0", "lagging==1.0", "fixed-old==1.5", "accepted==1.0"]
    status, out, report = run_audit(tmp_path, pins, "--accept", str(accept), json_base=index)
    assert status == 0, out
    assert report["summary"] | {"seconds": 0} == {
        **dict(packages=5, ok=2, lagging=2, accepted=1, vulnerable=0, yanked=0, unchecked=0),
        **{"failed": False, "seconds": 0},
    }
    assert "LAGGING    lagging==1.0  behind 1.1" in out


def test_a_lag_beyond_the_grace_period_or_an_unreachable_index_fails(tmp_path, index):
    status, out, _ = run_audit(tmp_path, ["lagging==1.0"], "--grace-days", "1", json_base=index)
    assert status == 1 and "UNCHECKED  lagging==1.0" in out and "the data speaks only for 1.1" in out
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", _free_port()))
        port = closed.getsockname()[1]
    status, out, report = run_audit(tmp_path, ["clean==1.0"], json_base=f"http://127.0.0.1:{port}/pypi")
    assert status == 1 and report["findings"][0]["status"] == "unchecked"
    assert "index unreachable" in out
