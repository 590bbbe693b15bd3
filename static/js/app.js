// The little JavaScript LeadFlow PM has: sidebar toggle. Everything else is HTMX.
(function () {
  "use strict";

  function toggleSidebar() {
    var mobile = window.matchMedia("(max-width: 767.98px)").matches;
    document.body.classList.toggle(mobile ? "sidebar-open" : "sidebar-collapsed");
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sidebar-toggle]")) {
      toggleSidebar();
    }
  });
})();
