"""What the hardening suites tried, in figures: tests record counts here; .ci/run prints the summary.

In a test:   from tests.report_summary import record
             record("idor", attempts=412, all_404=True)
After pytest: python tests/report_summary.py [junit.xml]

Each call merges the counts into $LEADFLOW_REPORT_DIR/<section>.json (default: a directory under the
system temp dir). Numbers add up across calls; other values are replaced.
"""

import json
import os
import sys
import tempfile
import xml.etree.ElementTree as ET  # noqa: S405 (parses the junit file pytest just wrote)
from pathlib import Path

# The sections .ci/run prints first, with a readable label per count; anything else follows as recorded.
LABELS = {
    "access_walk": "Permission table",
    "security_headers": "Security headers / no inline script",
    "csrf": "CSRF",
    "get_is_safe": "GET changes nothing",
    "idor": "IDOR",
    "field_level": "Admin-only fields",
    "bad_input": "Bad input (Hypothesis)",
    "money_stress": "Double settlement stress",
    "create_races": "Create forms sent 5x at once",
    "crash_injection": "Crash injection",
    "jobs_under_faults": "Jobs under faults",
    "redis_outage": "Redis outage (pages, jobs, recovery)",
    "audit": "Audit log",
    "login_throttle": "Login throttle (parallel, owner, Redis down)",
    "login_timing": "Login timing (known vs unknown email)",
    "fuzz_params": "Fuzzed query parameters / form fields",
    "connection_kill": "Database connection killed mid-request",
    "scanners": "Scanners",
    "stripe_events": "Stripe events (malformed, stale sessions)",
    "upload_bombs": "Upload bombs (pixel, frame, zip)",
    "money_races": "Money edits racing settlements",
    "one_time_links": "One-time links (reset, set-password, confirmation: reuse, expiry, two clicks at once)",
    "staff_rules": "Staff: the last active super admin (mutual suspensions at once)",
    "schemathesis": "Schemathesis over the live API",
    "api_hazards": "API: NUL, huge numbers, forged input",
    "api_idor": "API IDOR (other partner's token and key, valid bodies)",
    "webhooks": "Webhooks (private URLs refused at save / at delivery, worker killed mid-POST)",
}


def report_dir() -> Path:
    path = Path(os.environ.get("LEADFLOW_REPORT_DIR") or Path(tempfile.gettempdir()) / "leadflow-report")
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(section: str, **counts) -> None:
    """Merge `counts` into the section's file: numbers are added, other values replaced."""
    path = report_dir() / f"{section}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    for key, value in counts.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(data.get(key), int | float):
            data[key] = data[key] + value
        else:
            data[key] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def load_all(directory: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def junit_totals(path: Path) -> dict:
    """Totals of a pytest junit file, plus how many cases of the permission-table walk passed."""
    root = ET.parse(path).getroot()  # noqa: S314 (our own file)
    cases = list(root.iter("testcase"))
    outcome = {"passed": 0, "failed": 0, "skipped": 0}
    walked = 0
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            outcome["failed"] += 1
        elif case.find("skipped") is not None:
            outcome["skipped"] += 1
        else:
            outcome["passed"] += 1
            if case.get("name", "").startswith("test_route_answers_each_role_as_the_table_says"):
                walked += 1
    return {"tests": len(cases), **outcome, "walked_routes": walked}


def scanner_figures(directory: Path) -> tuple[dict, list[str]]:
    """Counts from bandit's and the dependency audit's JSON reports (in scans/), and one line per finding that fails CI."""
    figures, findings = {}, []
    bandit = directory / "scans" / "bandit.json"
    if bandit.exists():
        results = json.loads(bandit.read_text()).get("results", [])
        serious = [r for r in results if r["issue_severity"] in ("MEDIUM", "HIGH")]
        figures["bandit_medium_high"] = len(serious)
        findings += [f"bandit {r['test_id']} {r['filename']}:{r['line_number']} {r['issue_text']}" for r in serious]
    audit = directory / "scans" / "dependency-audit.json"
    if audit.exists():
        report = json.loads(audit.read_text())
        counts = report["summary"]
        figures["dependency_audit_packages"] = counts["packages"]
        figures["dependency_audit_clean"] = counts["ok"]
        if counts["lagging"] + counts["accepted"]:
            figures["dependency_audit_not_audited"] = f"{counts['lagging'] + counts['accepted']} (lagging or accepted)"
        failing = ("vulnerable", "yanked", "unchecked")
        findings += [
            f"dependency audit {f['status']} {f['name']}=={f['version']} {f['detail']}"
            for f in report["findings"]
            if f["status"] in failing
        ]
    return figures, findings


def _line(label: str, data: dict) -> str:
    parts = [f"{k.replace('_', ' ')}: {v}" for k, v in data.items()]
    return f"  {label:<38} " + ", ".join(parts)


def summary(directory: Path, junit: Path | None = None) -> str:
    sections = load_all(directory)
    lines = ["", "=== What the hardening suites tried ==="]
    if junit is not None and junit.exists():
        totals = junit_totals(junit)
        from tests.access_table import ROLES

        walked = totals.pop("walked_routes")
        sections.setdefault("access_walk", {}).update(
            {"routes": walked, "roles": len(ROLES), "route_x_role_checks": walked * len(ROLES)}
        )
        lines.append(_line("Tests", totals))
    scanners, findings = scanner_figures(directory)
    if scanners:
        sections["scanners"] = {**scanners, **sections.get("scanners", {})}
    for key in [*LABELS, *sorted(sections.keys() - LABELS.keys())]:
        if key in sections:
            lines.append(_line(LABELS.get(key, key.replace("_", " ")), sections[key]))
    lines += [f"    ! {finding}" for finding in findings]
    if len(lines) == 2:
        lines.append("  (no figures recorded)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    junit_file = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print(summary(report_dir(), junit_file))
