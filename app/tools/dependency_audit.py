"""Audit the locked dependency set against the package index's vulnerability data (issue #21, item 5).

    python -m app.tools.dependency_audit requirements.txt requirements-dev.txt [-o report.json]

The only vulnerability data reachable from our machines is the index's project JSON
(`<base>/<name>/json`, e.g. https://pypi.org/pypi/flask/json). Its `vulnerabilities` list speaks for the project's
latest release only, so each pin is classified by this rule:

- the pin is the latest release: `vulnerable` if the list holds an entry that is not withdrawn, else `ok`;
- the pin is older than the latest release: `vulnerable` if an entry of the latest release's list is not withdrawn
  and none of its fixed versions is at or below the pin (the flaw is older than the pin and still unfixed there);
  otherwise the data cannot speak for the pin, which is `lagging` (reported as not audited, passes) while the first
  newer release is younger than the grace period, `accepted` (reported as not audited, passes) while a person's
  dated acceptance of that exact pin stands, and `unchecked` after either;
- every file of the pinned release is yanked: `yanked`;
- anything else (network error, HTTP error, bad JSON, a pin the index does not list, a pin newer than the latest
  release, a requirement without `==`): `unchecked`.

`vulnerable`, `yanked` and `unchecked` fail the audit (exit status 1). The grace period (`--grace-days`, default 7)
bounds the blind window: a lock refreshed weekly (`make lock-upgrade`) never fails for lag alone, and a pin left
behind longer fails, because a flaw fixed by a newer release is invisible in this data. A pin that cannot move (a
dependent caps it, or its latest release needs a newer Python) is accepted by a comment line in a `.in` file, read
through `--accept`; it names the pin, an end date and why, so the exception is reviewed, visible and temporary:

    # audit-accept: mpmath==1.3.0 until 2027-03-07: sympy 1.14 requires mpmath<1.4

Acceptance never hides a vulnerability: it applies only to a pin the data cannot speak for.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from packaging.version import InvalidVersion, Version

DEFAULT_JSON_BASE = "https://pypi.org/pypi"
JSON_BASE_ENV = "LEADFLOW_AUDIT_JSON_BASE"
FAILING = ("vulnerable", "yanked", "unchecked")
PASSING = ("ok", "lagging", "accepted")
_ACCEPT = re.compile(
    r"^#\s*audit-accept:\s*(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)\s+until\s+(?P<until>\d{4}-\d{2}-\d{2}):\s*(?P<reason>.+)$"
)
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*(?P<version>[^\s;]+)")


@dataclass
class Pin:
    name: str
    version: str
    source: str


@dataclass(frozen=True)
class Acceptance:
    version: str
    until: date
    reason: str


@dataclass
class Finding:
    name: str
    version: str
    status: str  # ok | lagging | accepted | vulnerable | yanked | unchecked
    detail: str = ""
    latest: str | None = None
    vulnerabilities: list[dict] = field(default_factory=list)


class Unchecked(Exception):
    """The index's data for a package could not be read or cannot speak for the pinned version."""


def normalize(name: str) -> str:
    """PEP 503 name, the form the index answers to."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(paths: list[Path]) -> tuple[list[Pin], list[Finding]]:
    """The `name==version` pins of pip requirement files (continuations joined, options and comments dropped).

    A requirement that does not name one version cannot be audited: it comes back as an `unchecked` finding.
    """
    pins: dict[str, Pin] = {}
    loose: list[Finding] = []
    for path in paths:
        text = path.read_text().replace("\\\n", " ")
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-")):
                continue
            match = _PIN.match(line)
            if match is None:
                loose.append(Finding(line.split()[0], "", "unchecked", f"{path.name}: not pinned to one version"))
                continue
            pin = Pin(normalize(match["name"]), match["version"], path.name)
            known = pins.setdefault(pin.name, pin)
            if known.version != pin.version:
                loose.append(Finding(pin.name, pin.version, "unchecked", f"{path.name} and {known.source} disagree"))
    return sorted(pins.values(), key=lambda p: p.name), loose


def read_acceptances(paths: list[Path]) -> dict[str, Acceptance]:
    """The `# audit-accept: name==version until YYYY-MM-DD: reason` lines of the given files, by package name."""
    accepted = {}
    for path in paths:
        for line in path.read_text().splitlines():
            match = _ACCEPT.match(line.strip())
            if match:
                until = date.fromisoformat(match["until"])
                accepted[normalize(match["name"])] = Acceptance(match["version"], until, match["reason"].strip())
    return accepted


def json_base_from_pip() -> str:
    """The JSON API base of pip's configured index: `.../simple` becomes `.../pypi`; PyPI when none is set."""
    index = os.environ.get("PIP_INDEX_URL")
    if not index:
        listed = subprocess.run(  # nosec B603: our own interpreter's pip, fixed arguments
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
        ).stdout
        found = re.findall(r"^\S*\.index-url='([^']+)'", listed, re.M)
        index = found[-1] if found else ""
    if not index:
        return DEFAULT_JSON_BASE
    base = index.rstrip("/")
    return base[: -len("/simple")] + "/pypi" if base.endswith("/simple") else base


def fetch_project(base: str, name: str, timeout: float = 30, attempts: int = 2) -> dict:
    """The project JSON of one package; raises Unchecked on any failure (one retry for network errors)."""
    url = f"{base.rstrip('/')}/{name}/json"
    if not url.startswith(("https://", "http://")):
        raise Unchecked(f"index JSON base is not HTTP(S): {base}")
    headers = {"Accept": "application/json", "User-Agent": "leadflow-audit"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  # nosec B310: scheme checked above
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310: scheme checked
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise Unchecked(f"index answered HTTP {error.code} for {url}") from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise Unchecked(f"index answered something that is not JSON for {url}") from error
        except (OSError, ValueError) as error:
            if attempt + 1 == attempts:
                raise Unchecked(f"index unreachable for {url}: {error}") from error
            time.sleep(1)
    raise AssertionError("unreachable")


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as error:
        raise Unchecked(f"not a version: {text!r}") from error


def _release_files(project: dict, version: Version) -> list[dict] | None:
    for text, files in project["releases"].items():
        try:
            if Version(text) == version:
                return files
        except InvalidVersion:
            continue
    return None


def _first_newer_release_age(project: dict, pinned: Version, now: datetime) -> timedelta:
    """How long ago the first final release newer than the pin was published: the pin's blind window."""
    uploads = []
    for text, files in project["releases"].items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        live = [f for f in files if not f.get("yanked")]
        if version > pinned and not version.is_prerelease and live:
            uploads.append((version, min(f["upload_time_iso_8601"] for f in live)))
    if not uploads:
        raise Unchecked("no newer release with files")
    published = min(uploads)[1].replace("Z", "+00:00")
    return now - datetime.fromisoformat(published)


def _open_vulnerabilities(project: dict, pinned: Version, is_latest: bool) -> list[dict]:
    """Entries of the latest release's list that are not withdrawn and (for an older pin) not fixed by the pin."""
    found = []
    for vuln in project["vulnerabilities"]:
        if vuln.get("withdrawn"):
            continue
        fixed = [_version(v) for v in vuln.get("fixed_in") or []]
        if is_latest or not any(v <= pinned for v in fixed):
            found.append({k: vuln.get(k) for k in ("id", "aliases", "fixed_in", "link", "summary")})
    return found


def _behind(finding: Finding, age: timedelta, grace: timedelta, acceptance: Acceptance | None, today: date) -> None:
    """A pin older than the latest release with no open entry: lagging, accepted, or (raised) unchecked."""
    finding.detail = f"behind {finding.latest}; first newer release is {age.days} days old"
    if age <= grace:
        finding.status = "lagging"
    elif acceptance and acceptance.version == finding.version and acceptance.until >= today:
        finding.status = "accepted"
        finding.detail += f"; accepted until {acceptance.until}: {acceptance.reason}"
    else:
        expired = f" (acceptance ended {acceptance.until})" if acceptance and acceptance.until < today else ""
        raise Unchecked(f"{finding.detail}: the data speaks only for {finding.latest}{expired} (make lock-upgrade)")


def classify(pin: Pin, project: dict, now: datetime, grace: timedelta, acceptance: Acceptance | None = None) -> Finding:
    """Apply the module's rule to one pin and its project JSON."""
    try:
        latest_text = project["info"]["version"]
        if not isinstance(project["releases"], dict) or not isinstance(project["vulnerabilities"], list):
            raise TypeError
    except (KeyError, TypeError) as error:
        raise Unchecked("project JSON lacks info.version, releases or vulnerabilities") from error
    pinned, latest = _version(pin.version), _version(latest_text)
    finding = Finding(pin.name, pin.version, "ok", latest=latest_text)
    files = _release_files(project, pinned)
    if not files:
        raise Unchecked(f"the index lists no files for {pin.version}")
    if all(f.get("yanked") for f in files):
        finding.status, finding.detail = (
            "yanked",
            files[0].get("yanked_reason") or "every file of the release is yanked",
        )
        return finding
    if pinned > latest:
        raise Unchecked(f"pinned {pin.version} is newer than the latest release {latest_text} the data speaks for")
    finding.vulnerabilities = _open_vulnerabilities(project, pinned, is_latest=pinned == latest)
    if finding.vulnerabilities:
        finding.status = "vulnerable"
        finding.detail = ", ".join(v["id"] for v in finding.vulnerabilities)
    elif pinned < latest:
        _behind(finding, _first_newer_release_age(project, pinned, now), grace, acceptance, now.date())
    return finding


def audit_pin(pin: Pin, base: str, now: datetime, grace: timedelta, acceptance: Acceptance | None) -> Finding:
    """Fetch and classify one pin; every failure becomes an `unchecked` finding, never an exception."""
    try:
        return classify(pin, fetch_project(base, pin.name), now, grace, acceptance)
    except Unchecked as error:
        return Finding(pin.name, pin.version, "unchecked", str(error))


def audit(
    pins: list[Pin], base: str, grace_days: float, accepted: dict[str, Acceptance], workers: int = 16
) -> list[Finding]:
    """Audit every pin concurrently (the index answers in ~0.1 s; a lock of ~150 pins takes seconds)."""
    now, grace = datetime.now(UTC), timedelta(days=grace_days)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda pin: audit_pin(pin, base, now, grace, accepted.get(pin.name)), pins))


def summarize(findings: list[Finding]) -> dict:
    counts = {status: 0 for status in (*PASSING, *FAILING)}
    for finding in findings:
        counts[finding.status] += 1
    return {"packages": len(findings), **counts, "failed": any(f.status in FAILING for f in findings)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.tools.dependency_audit", description=__doc__.split("\n")[0])
    parser.add_argument("requirements", nargs="+", type=Path, help="locked requirement files (name==version)")
    parser.add_argument("-o", "--output", type=Path, help="write the JSON report here")
    parser.add_argument("--json-base", help=f"index JSON API base (default: ${JSON_BASE_ENV}, else pip's index)")
    parser.add_argument("--grace-days", type=float, default=7.0, help="how long a pin may lag the latest release")
    parser.add_argument("--accept", type=Path, action="append", default=[], help="file with `# audit-accept:` lines")
    args = parser.parse_args(argv)

    started = time.monotonic()
    base = args.json_base or os.environ.get(JSON_BASE_ENV) or json_base_from_pip()
    pins, findings = read_pins(args.requirements)
    findings += audit(pins, base, args.grace_days, read_acceptances(args.accept))
    summary = summarize(findings) | {"seconds": round(time.monotonic() - started, 2)}
    for finding in sorted(findings, key=lambda f: (f.status, f.name)):
        if finding.status != "ok":
            print(f"{finding.status.upper():<10} {finding.name}=={finding.version}  {finding.detail}")
    counted = ", ".join(f"{summary[s]} {s}" for s in (*PASSING, *FAILING))
    print(f"dependency audit against {base}: {summary['packages']} packages, {counted} in {summary['seconds']} s")
    if args.output:
        report = {"index": base, "grace_days": args.grace_days, "summary": summary}
        args.output.write_text(json.dumps(report | {"findings": [asdict(f) for f in findings]}, indent=2))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
