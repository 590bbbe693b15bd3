// Leads pages. Kanban drag and drop: SortableJS moves cards between column lists; the column form
// (hx-trigger "add, update") posts its cards through HTMX. Re-run on every HTMX swap so new cards
// and columns work too. A card's Move menu (plain HTMX buttons) is the drag's keyboard and touch twin: after
// a move, focus goes back to the card in its new column and #live-region says what happened.
// The partner filter: picking a suggested partner fills the hidden `cp` field.
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
        filter: ".kanban-move",  // the Move menu is clicked, not dragged
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 4,
        // Column snapping would pull the board back while SortableJS scrolls it toward a far column.
        onStart: function () { list.closest(".kanban-board").classList.add("kanban-dragging"); },
        onEnd: function () { list.closest(".kanban-board").classList.remove("kanban-dragging"); }
      });
    });
  }

  // --- after a move: focus and announcement -------------------------------------------------------
  // The card a Move button or the Lost dialog is moving: {id, from (its column then), xhr, cancel}.
  var moving = null;

  function cardOf(id) {
    return document.getElementById("card-" + id);
  }

  function columnOf(card) {
    return card ? card.closest(".kanban-column") : null;
  }

  function focusCard(card) {
    var control = card && (card.querySelector(".kanban-move summary") || card.querySelector(".kanban-card-title"));
    if (control) {
      control.focus();
    }
  }

  function announce(text) {
    var live = document.getElementById("live-region");
    if (live && text) {
      live.textContent = text;
    }
  }

  function boardMessage() {
    var message = document.getElementById("kanban-message");
    return message ? message.textContent.trim() : "";
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var card = elt.closest(".kanban-move") && elt.closest(".kanban-card");
    var dialog = elt.closest("#kanban-dialog [data-lead-id]");
    if (card || dialog) {
      var id = card ? card.dataset.leadId : dialog.dataset.leadId;
      var column = columnOf(cardOf(id));
      moving = { id: id, from: column && column.dataset.stage, xhr: event.detail.xhr,
                 cancel: elt.matches("[data-dialog-cancel]") };
    }
  });

  // Fired after the swaps, on the element that asked or (when the answer removed it, as it does a moved card's
  // button) on its nearest ancestor still on the page, which then stands as detail.elt: hence the xhr is compared.
  document.addEventListener("htmx:afterRequest", function (event) {
    var mine = moving && moving.xhr === event.detail.xhr;
    if (!mine && !event.detail.elt.matches(".kanban-column")) {
      return; // neither a move nor a drop
    }
    var reason = document.querySelector("#kanban-dialog textarea");
    if (reason) { // moving to Lost asks why first (or the reason was refused)
      reason.focus();
      announce(boardMessage());
      return;
    }
    if (!mine) {
      announce(boardMessage()); // a drop
      return;
    }
    var card = cardOf(moving.id), column = columnOf(card);
    if (column && column.dataset.stage !== moving.from) {
      var title = card.querySelector(".kanban-card-title");
      announce("Moved " + (title ? title.title : "the lead") + " to " + column.getAttribute("aria-label") + ".");
    } else if (!moving.cancel) {
      announce(boardMessage()); // refused: the message says why
    }
    focusCard(card);
    moving = null;
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) {
      return;
    }
    var menu = event.target.closest(".kanban-move[open]");
    var cancel = event.target.closest("#kanban-dialog") && document.querySelector("#kanban-dialog [data-dialog-cancel]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    } else if (cancel) {
      cancel.click();
    }
  });

  // Back on the board after a move made without HTMX (#card-<id>): focus that card.
  document.addEventListener("DOMContentLoaded", function () {
    if (/^#card-[0-9a-f-]+$/.test(location.hash)) {
      focusCard(document.getElementById(location.hash.slice(1)));
    }
  });

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
