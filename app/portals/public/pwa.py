"""Installing the app (SPEC 9.6, issue 20 item 3): the web manifest, the service worker and its offline page.

The service worker (static/sw.js) is served from the root, /sw.js, so that its scope is the whole site. Before its
code this route writes the shell it caches (the layout's CSS, scripts and icons) and a version drawn from their
bytes: a deploy that changes any of them changes /sw.js, the browser installs the new worker and it drops the old
cache. Pages, htmx fragments and anything with money are never cached: navigations go to the network, and only when
that fails is the offline page shown.
"""

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import current_app, make_response, render_template, request, url_for

from app.access import public

SHELL_FOLDERS = ("css", "js", "img", "icons")
SHELL_SUFFIXES = {".css", ".js", ".svg", ".png", ".woff2", ".woff"}
THEME_COLOURS = {"light": "#1e3a8a", "dark": "#0f172a"}
NO_CACHE = "no-cache"  # the browser asks every time (a 304 when unchanged), so a new worker is found at once


@cache
def _shell(static_folder: str, offline_template: str) -> tuple[tuple[str, ...], str, str]:
    """The shell's files (paths under static/), a version (a hash of their names and bytes, of the worker's code
    and of the offline page's template) and the worker's code. Read once per process (a deploy restarts it), on
    every request in development."""
    root = Path(static_folder)
    files = sorted(
        path.relative_to(root).as_posix()
        for folder in SHELL_FOLDERS
        for path in (root / folder).rglob("*")
        if path.is_file() and path.suffix in SHELL_SUFFIXES
    )
    digest = hashlib.sha256()
    for name in (*files, "sw.js"):
        digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    digest.update(Path(offline_template).read_bytes())
    return tuple(files), digest.hexdigest()[:16], (root / "sw.js").read_text(encoding="utf-8")


def _worker() -> tuple[tuple[str, ...], str, str]:
    """The shell, its version and the worker's code. In development the files change under a running server: they
    are read again, or an edited stylesheet would be answered from the old cache until a restart."""
    app = current_app
    offline_template = str(Path(app.root_path, app.template_folder, "offline.html"))
    return (_shell.__wrapped__ if app.debug else _shell)(app.static_folder, offline_template)


@public
def service_worker():
    files, version, code = _worker()
    settings = {
        "version": version,
        "shell": [url_for("static", filename=name) for name in files],
        "offline": url_for("public.offline"),
    }
    body = f"self.LEADFLOW_SW = {json.dumps(settings)};\n{code}"
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = NO_CACHE
    response.add_etag()  # the browser asks on its update checks: unchanged, a bodiless 304
    return response.make_conditional(request)


@public
def web_manifest():
    icon = lambda name, size, purpose: {  # noqa: E731
        "src": url_for("static", filename=f"icons/{name}"),
        "sizes": f"{size}x{size}",
        "type": "image/png",
        "purpose": purpose,
    }
    manifest = {
        "id": url_for("core.index"),
        "name": "LeadFlow PM",
        "short_name": "LeadFlow",
        "description": "Leads, pipeline and commissions for channel partners and their admins.",
        "start_url": url_for("core.index"),  # sends each person to their own portal's dashboard (or the login)
        "scope": url_for("core.index"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOURS["light"],
        "icons": [
            icon("icon-192.png", 192, "any"),
            icon("icon-512.png", 512, "any"),
            icon("maskable-512.png", 512, "maskable"),
        ],
    }
    response = make_response(json.dumps(manifest, indent=2))
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = NO_CACHE
    return response


@public
def offline():
    """What the service worker shows when a page cannot be reached. The same for everyone: nothing of an account
    is on it, so the copy the worker keeps can be shown to whoever is offline."""
    return render_template("offline.html", theme_colours=THEME_COLOURS)


def register(bp) -> None:
    """Add the three routes to the public blueprint (at the site's root: a worker's scope is its own folder)."""
    bp.add_url_rule("/sw.js", "service_worker", service_worker)
    bp.add_url_rule("/manifest.webmanifest", "web_manifest", web_manifest)
    bp.add_url_rule("/offline", "offline", offline)
