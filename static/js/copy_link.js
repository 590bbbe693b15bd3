// Copy buttons: <button data-copy="#input">. The input stays visible, so copying by hand always works too.
(function () {
  if (window.lfCopyLink) return;
  window.lfCopyLink = true;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    var input = button && document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else if (document.execCommand("copy")) {
      done();
    }
  });
})();
