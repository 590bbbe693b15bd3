"""Every page of every portal, as the role it is for: no horizontal overflow at 360, 390, 768, 1366 and 1920 px,
zero axe-core WCAG 2.1 A/AA violations in the light and the dark theme, and no id used twice (issue 20, items 1
and 2).

The pages are the GET routes of the one permission table (tests/access_table.py) that answer HTML to some role,
on the same small world the route walk uses; a route added to the app is walked here without another line.
axe-core is vendored from the npm registry (tests/browser/vendor/axe-core/VERSION).
"""

from pathlib import Path

import pytest

from app.extensions import db
from tests.access_table import ROUTES
from tests.conftest import login
from tests.world import build_world

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (360, 390, 768, 1366, 1920)
PORTAL_ROLE = {"cp": "cp", "admin": "admin", "superadmin": "super"}
ROLE_ORDER = ("anon", "cp", "admin", "super", "pending")

# The elements whose right edge passes the viewport, outermost first, when the document scrolls sideways.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width + 1) return null;
  // Inside a region that scrolls or clips sideways, an element's box passes the edge without widening the page
  // (unless it is positioned against something outside that region: then the region does not clip it).
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return getComputedStyle(el).position !== 'absolute';
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll('*')].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !clipped(el);
  });
  const outermost = wide.filter((el) => !wide.includes(el.parentElement));
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  return {scrollWidth: document.documentElement.scrollWidth, width,
          elements: outermost.slice(0, 4).map((el) => name(el) + ' right=' + Math.round(el.getBoundingClientRect().right))};
}"""

# Two elements with one id send a label (or aria-labelledby/-describedby/-controls, an HTMX target, a link) to the
# wrong one. Ids nothing refers to (hidden inputs) are not counted.
DUPLICATE_IDS_JS = """() => {
  const seen = new Map();
  document.querySelectorAll('[id]').forEach((el) => seen.set(el.id, (seen.get(el.id) || 0) + 1));
  const referred = new Set();
  document.querySelectorAll('label[for]').forEach((el) => referred.add(el.htmlFor));
  for (const name of ['aria-labelledby', 'aria-describedby', 'aria-controls', 'aria-owns']) {
    document.querySelectorAll('[' + name + ']').forEach((el) => el.getAttribute(name).split(/\\s+/).forEach((id) => referred.add(id)));
  }
  for (const name of ['hx-target', 'href']) {
    document.querySelectorAll('[' + name + '^="#"]').forEach((el) => referred.add(el.getAttribute(name).slice(1)));
  }
  return [...seen].filter(([id, n]) => n > 1 && referred.has(id)).map(([id, n]) => id + ' ×' + n);
}"""

AXE_JS = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const contrast = (n) => {
    const data = n.any.length ? n.any[0].data : null;
    return data && data.contrastRatio ? ` [${data.contrastRatio}:1 ${data.fgColor} on ${data.bgColor}]` : '';
  };
  // Contrast failures are named once per colour pair (one rule in a stylesheet fixes all of a pair's nodes).
  const shown = (v) => v.id !== 'color-contrast' ? v.nodes.slice(0, 3)
    : v.nodes.filter((n, i) => v.nodes.findIndex((m) => contrast(m) === contrast(n)) === i);
  return result.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.length + ' × '
    + shown(v).map((n) => n.target.join(' ') + contrast(n)).join(' | '));
}"""


def _role_for(endpoint: str, expected: dict) -> str | None:
    portal_role = PORTAL_ROLE.get(endpoint.split(".", 1)[0])
    if portal_role and expected[portal_role] == 200:
        return portal_role
    return next((role for role in ROLE_ORDER if expected[role] == 200), None)


def pages_for(role: str) -> list[tuple[str, str]]:
    """(endpoint, path template) of every GET route whose page is looked at as `role`."""
    return sorted(
        (key.split(" ", 1)[1], path)
        for key, (path, expected) in ROUTES.items()
        if key.startswith("GET ") and _role_for(key.split(" ", 1)[1], expected) == role
    )


def _is_html_page(client, path: str) -> bool:
    response = client.get(path)
    return (
        response.status_code == 200
        and response.mimetype == "text/html"
        and "attachment" not in response.headers.get("Content-Disposition", "")
    )


def _browser_page(browser, live_server, client):
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    cookie = client.get_cookie("session")
    if cookie is not None:
        context.add_cookies([{"name": "session", "value": cookie.value, "url": live_server}])
    return context, context.new_page()


def _look_at(page, path: str) -> list[str]:
    """Overflow at every width in the light theme, then axe in each theme on a page loaded in it, as a person whose
    system is set to that theme would load it."""
    problems = []
    for theme, axe_width in (("light", 1366), ("dark", 390)):
        page.emulate_media(color_scheme=theme)
        page.set_viewport_size({"width": axe_width, "height": 900})
        page.goto(path)
        # The first load waits for the network to rest; the second (the same page in the other theme) only until
        # htmx has no request in flight (the parts a page loads after it, hx-trigger="load"), which is quicker.
        if theme == "light":
            page.wait_for_load_state("networkidle")
        else:
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
        page.add_script_tag(path=str(AXE))
        problems += [f"axe {theme} {axe_width} px: {v}" for v in page.evaluate(AXE_JS, AXE_TAGS)]
        if theme == "light":
            problems += [f"duplicate id {dup}" for dup in page.evaluate(DUPLICATE_IDS_JS)]
            problems += _overflow(page)
    return problems


def _overflow(page) -> list[str]:
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(OVERFLOW_JS)
        if overflow:
            problems.append(f"{width} px: {overflow['scrollWidth']} px wide: {', '.join(overflow['elements'])}")
    return problems


@pytest.mark.parametrize("role", ["anon", "pending", "cp", "admin", "super"])
def test_every_page_fits_every_width_and_passes_axe_in_both_themes(app, browser, live_server, role):
    world = build_world()
    client = app.test_client()
    if role != "anon":
        login(client, world["users"][role])
    db.session.remove()
    paths = [(endpoint, template.format(**world["ids"])) for endpoint, template in pages_for(role)]
    pages = [(endpoint, path) for endpoint, path in paths if _is_html_page(client, path)]
    assert pages, f"no HTML pages for {role}"
    context, page = _browser_page(browser, live_server, client)
    try:
        failures = {f"{endpoint} {path}": _look_at(page, path) for endpoint, path in pages}
    finally:
        context.close()
    failures = {page_name: problems for page_name, problems in failures.items() if problems}
    report = "\n".join(f"{name}\n    " + "\n    ".join(problems) for name, problems in failures.items())
    assert not failures, f"{len(failures)} of {len(pages)} pages as {role}:\n{report}"
