// The little JavaScript LeadFlow PM has: the navigation drawer, keyboard access to scrolling regions, and the
// expanded state of search-as-you-type lists. Everything else is HTMX.
(function () {
  "use strict";
  var mobile = window.matchMedia("(max-width: 767.98px)");

  // The sidebar: collapsed on wide screens, a drawer on phones that the close button, the backdrop, Escape and
  // following one of its links all close.
  function sidebarShown() {
    var body = document.body;
    return mobile.matches ? body.classList.contains("sidebar-open") : !body.classList.contains("sidebar-collapsed");
  }

  function syncToggle() {
    document.querySelectorAll(".sidebar-toggle").forEach(function (button) {
      button.setAttribute("aria-expanded", sidebarShown() ? "true" : "false");
    });
  }

  function setSidebar(show) {
    var body = document.body;
    if (mobile.matches) {
      body.classList.toggle("sidebar-open", show);
    } else {
      body.classList.toggle("sidebar-collapsed", !show);
    }
    syncToggle();
    var target = show ? document.querySelector("#sidebar .nav-link") : document.querySelector(".sidebar-toggle");
    if (target && mobile.matches) target.focus();
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sidebar-toggle]")) {
      setSidebar(!sidebarShown());
    } else if (mobile.matches && event.target.closest("#sidebar a")) {
      document.body.classList.remove("sidebar-open");
      syncToggle();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && mobile.matches && document.body.classList.contains("sidebar-open")) {
      setSidebar(false);
    }
  });
  mobile.addEventListener("change", syncToggle);

  // A region that scrolls sideways (a wide table or a chart on a phone) takes keyboard focus so it can be scrolled
  // by keys.
  function markScrollable() {
    document.querySelectorAll(".table-responsive, pre, .chart-frame, .chart-figure, [data-scrolls]").forEach(function (region) {
      var scrolls = region.scrollWidth > region.clientWidth + 1 || region.scrollHeight > region.clientHeight + 1;
      if (scrolls && !region.hasAttribute("tabindex")) {
        region.setAttribute("tabindex", "0");
        region.setAttribute("data-made-focusable", "");
      } else if (!scrolls && region.hasAttribute("data-made-focusable")) {
        region.removeAttribute("tabindex");
        region.removeAttribute("data-made-focusable");
      }
    });
  }

  // A combobox says whether its list of suggestions is open, whoever fills or empties the list.
  function watchListboxes() {
    document.querySelectorAll('[role="combobox"][aria-controls]').forEach(function (input) {
      var list = document.getElementById(input.getAttribute("aria-controls"));
      if (!list || list.hasAttribute("data-watched")) return;
      list.setAttribute("data-watched", "");
      var sync = function () {
        input.setAttribute("aria-expanded", list.children.length > 0 && !list.hidden ? "true" : "false");
      };
      new MutationObserver(sync).observe(list, { childList: true, attributes: true, attributeFilter: ["hidden"] });
      sync();
    });
  }

  // Focus after a swap: when the focused control was inside what an HTMX answer replaced (a saved form, a
  // refreshed panel), focus goes to the first field in error, else the same control again (by id or name), else
  // the answer's message, else the region itself, never back to the top of the page.
  var focusBefore = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var target = event.detail.target;
    focusBefore = active && active !== document.body && target && target.contains(active) && target.id
      ? { region: target.id, id: active.id, name: active.getAttribute("name") }
      : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var before = focusBefore;
    focusBefore = null;
    var region = before && document.getElementById(before.region);
    if (!region) return;
    // Lost focus lands on <body>, or a focus trap around the region (the slide-over's) takes it for itself.
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active) && !active.contains(region)) return;
    var same = before.id ? document.getElementById(before.id)
      : before.name ? region.querySelector('[name="' + CSS.escape(before.name) + '"]') : null;
    var next = region.querySelector(".is-invalid, [aria-invalid=true]") || (same && region.contains(same) ? same : null)
      || region.querySelector('[role="status"], [role="alert"]') || region;
    if (!next.matches("a[href], button, input, select, textarea, [tabindex]")) next.setAttribute("tabindex", "-1");
    next.focus();
  });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(markScrollable, 150);
  });
  // A boosted link pushes its URL before the swap, and htmx:load comes a settle later: sync the new page's toggle
  // in the same task as the swap, so aria-expanded is never the server's wide-screen default on a phone.
  document.addEventListener("htmx:afterSwap", syncToggle);
  document.addEventListener("htmx:load", function () {
    syncToggle();
    markScrollable();
    watchListboxes();
  });
  document.addEventListener("DOMContentLoaded", function () {
    syncToggle();
    markScrollable();
    watchListboxes();
  });
})();
