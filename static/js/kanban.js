// Leads pages. Kanban drag and drop: SortableJS moves cards between column lists; the column form
// (hx-trigger "add, update") posts its cards through HTMX. Re-run on every HTMX swap so new cards
// and columns work too. The partner filter: picking a suggested partner fills the hidden `cp` field.
(function () {
  "use strict";

  function initBoards(root) {
    if (typeof Sortable === "undefined") {
      return;
    }
    var lists = root.querySelectorAll ? root.querySelectorAll("[data-kanban-list]") : [];
    if (root.matches && root.matches("[data-kanban-list]")) {
      lists = [root].concat(Array.prototype.slice.call(lists));
    }
    Array.prototype.forEach.call(lists, function (list) {
      if (list.dataset.sortableReady || list.closest("[data-readonly]")) {
        return; // a viewer's board is read-only
      }
      list.dataset.sortableReady = "1";
      Sortable.create(list, {
        group: "kanban",
        sort: false,
        animation: 150,
        draggable: ".kanban-card",
        ghostClass: "kanban-card-ghost",
        forceFallback: true,
        fallbackTolerance: 4
      });
    });
  }

  function setPartner(picker, id, name) {
    var hidden = picker.querySelector("[data-partner-id]");
    var text = picker.querySelector("[data-partner-name]");
    var options = picker.querySelector(".partner-options");
    if (options) {
      options.innerHTML = "";
    }
    if (name !== null) {
      text.value = name;
    }
    if (hidden.value !== id) {
      hidden.value = id;
      hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  document.addEventListener("click", function (event) {
    var pick = event.target.closest ? event.target.closest("[data-partner-pick]") : null;
    var picker = pick && pick.closest("[data-partner-picker]");
    if (picker) {
      setPartner(picker, pick.dataset.partnerPick, pick.textContent.trim());
    }
  });

  document.addEventListener("input", function (event) {
    var picker = event.target.matches("[data-partner-name]") && event.target.closest("[data-partner-picker]");
    if (picker && !event.target.value.trim()) {
      setPartner(picker, "", null);  // cleared: every partner again
    }
  });

  // The typed partner name is only a search: the filter form changes when a partner is picked (`cp`).
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-partner-name]")) {
      event.stopPropagation();
    }
  }, true);

  // Deferred scripts run before htmx's own start-up, which then fires htmx:load on <body>.
  if (window.htmx) {
    htmx.onLoad(initBoards);
  }
})();
