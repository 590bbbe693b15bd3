// /account/timezone: before a zone is saved, propose the browser's own zone in the picker (the person saves it).
(function () {
  var select = document.querySelector("select[data-browser-zone]");
  if (!select || select.dataset.chosen === "true" || !window.Intl) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var known = Array.prototype.some.call(select.options, function (option) { return option.value === zone; });
  if (!zone || !known) return;
  select.value = zone;
  var note = document.getElementById("browser-zone-note");
  note.textContent = "Proposed from this device: " + zone + ". Save to use it.";
  note.hidden = false;
})();
