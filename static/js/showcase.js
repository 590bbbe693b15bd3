// The customer view opens with the sidebar hidden; the hamburger (app.js) reopens it.
// Boosted navigation swaps only the body's content, so the class is set here on each swap too.
(function () {
  "use strict";

  function syncShowcase() {
    var body = document.body;
    var inShowcase = document.querySelector("[data-showcase]") !== null;
    if (inShowcase && body.dataset.showcase !== "on") {
      body.dataset.showcase = "on";
      body.classList.add("sidebar-collapsed");
      body.classList.remove("sidebar-open");
    } else if (!inShowcase && body.dataset.showcase === "on") {
      delete body.dataset.showcase;
      body.classList.remove("sidebar-collapsed");
    }
  }

  document.addEventListener("DOMContentLoaded", syncShowcase);
  document.addEventListener("htmx:afterSettle", syncShowcase);
})();
