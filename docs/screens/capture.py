"""Screenshots of the main pages at a laptop's and a phone's width, for the README (`make screens`).

Seeds the demo data into a throwaway SQLite database, serves the app on a free loopback port, logs in as the demo
people and saves docs/screens/<name>-<width>.jpg. Needs Debian's chromium (as the browser tests do).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PASSWORD = "demo-pass-2026"
WIDTHS = {1366: 900, 390: 844}
# (file name, who logs in, path)
PAGES = [
    ("login", None, "/auth/login"),
    ("public-form", None, "/request"),
    ("cp-dashboard", "cp1@demo.test", "/cp/"),
    ("cp-kanban", "cp1@demo.test", "/cp/leads/assigned/kanban"),
    ("cp-leads", "cp1@demo.test", "/cp/leads/assigned"),
    ("cp-commissions", "cp1@demo.test", "/cp/commissions"),
    ("cp-training", "cp1@demo.test", "/cp/training"),
    ("cp-assets", "cp1@demo.test", "/cp/assets"),
    ("admin-dashboard", "admin@demo.test", "/admin/"),
    ("admin-kanban", "admin@demo.test", "/admin/leads/kanban"),
    ("admin-fees", "admin@demo.test", "/admin/platform-fees"),
    ("super-dashboard", "super@demo.test", "/super/"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(env: dict, port: int) -> subprocess.Popen:
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*flask, "seed-demo"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([*flask, "run", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the app did not start")


def capture(base: str) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=args)
        for who in dict.fromkeys(who for _, who, _ in PAGES):
            context = browser.new_context(base_url=base, color_scheme="light")
            page = context.new_page()
            if who:
                page.goto("/auth/login")
                page.get_by_label("Email").fill(who)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_load_state("networkidle")
            for name, page_who, path in PAGES:
                if page_who != who:
                    continue
                for width, height in WIDTHS.items():
                    page.set_viewport_size({"width": width, "height": height})
                    response = page.goto(path)
                    if response is None or response.status != 200:
                        raise SystemExit(f"{path} as {who or 'a visitor'}: {response and response.status}")
                    page.wait_for_load_state("networkidle")
                    out = HERE / f"{name}-{width}.jpg"
                    page.screenshot(path=out, type="jpeg", quality=70)
                    print(out.relative_to(ROOT))
            context.close()
        browser.close()


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="leadflow-screens-")
    port = free_port()
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "LEADFLOW_CONFIG": "development",
        "DATABASE_URL": f"sqlite:///{workdir}/screens.db",
        "STORAGE_LOCAL_DIR": f"{workdir}/uploads",
        "REDIS_URL": "",
    }
    server = serve(env, port)
    try:
        capture(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
