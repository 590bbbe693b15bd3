// The colour theme (issue 20 item 3). Loaded in <head> without `defer`, before the page is drawn, so the
// theme never flashes. The server writes the person's choice on <html data-theme-choice="auto|light|dark">
// (and data-bs-theme for light and dark); "auto" follows the system setting, here and whenever it changes.
// The offline page says "remembered": the last choice this browser saw, kept in localStorage.
(function () {
  "use strict";
  var root = document.documentElement;
  var STORE = "leadflow-theme";
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var choice = root.getAttribute("data-theme-choice") || "auto";

  function remembered() {
    try {
      return window.localStorage.getItem(STORE) || "auto";
    } catch (e) {
      return "auto";
    }
  }

  function remember(value) {
    try {
      window.localStorage.setItem(STORE, value);
    } catch (e) {
      /* private mode: the server still remembers it */
    }
  }

  function apply() {
    var dark = choice === "dark" || (choice === "auto" && system !== null && system.matches);
    root.setAttribute("data-bs-theme", dark ? "dark" : "light");
  }

  if (choice === "remembered") {
    choice = remembered();
  } else if (root.hasAttribute("data-theme-user")) {
    remember(choice);
  }
  apply();
  if (system !== null && system.addEventListener) {
    system.addEventListener("change", apply);
  }

  function markSwitches() {
    document.querySelectorAll("[data-theme-switch] [name=theme]").forEach(function (button) {
      if (button.tagName === "BUTTON") {
        button.setAttribute("aria-pressed", button.value === choice ? "true" : "false");
      }
    });
  }

  // The switch's answer (HX-Trigger: {"themeChanged": {"theme": ...}}), raised on the form and bubbling here.
  document.addEventListener("themeChanged", function (event) {
    var theme = event.detail && event.detail.theme;
    if (theme !== "auto" && theme !== "light" && theme !== "dark") return;
    choice = theme;
    root.setAttribute("data-theme-choice", theme);
    remember(theme);
    apply();
    markSwitches();
    var live = document.getElementById("live-region");
    var names = { auto: "System", light: "Light", dark: "Dark" };
    if (live) live.textContent = "Theme: " + names[theme] + ".";
  });
})();
