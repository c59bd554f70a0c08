/* Live progress of a contact import: the figures of #import-progress are read from its JSON
   every second while the tab is visible (nothing is asked while it is hidden); once the import
   is finished the page is loaded again, to show its report. Without this script the page's
   "Actualiser" link does the same. */
(function () {
  "use strict";
  var PERIOD_MS = 1000;
  var box = document.getElementById("import-progress");
  if (!box || box.getAttribute("data-final") === "true") return;
  var url = box.getAttribute("data-import-url");
  var timer = null;

  function show(data) {
    Object.keys(data.counts).forEach(function (name) {
      var cell = box.querySelector('[data-field="' + name + '"]');
      if (cell) cell.textContent = data.counts[name];
    });
    var status = box.querySelector('[data-field="status_label"]');
    if (status && status.textContent !== data.status_label) {
      status.textContent = data.status_label;
      var region = box.querySelector("[data-announce]");
      if (region) region.textContent = data.status_label;
    }
    if (data.final) window.location.reload();
  }

  function poll() {
    timer = null;
    if (document.visibilityState !== "visible") return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok || answer.redirected) throw new Error(String(answer.status));
        return answer.json();
      })
      .then(function (data) { show(data); if (!data.final) schedule(); })
      .catch(function () { schedule(); });
  }

  function schedule() {
    if (timer === null && document.visibilityState === "visible") {
      timer = setTimeout(poll, PERIOD_MS);
    }
  }

  document.addEventListener("visibilitychange", schedule);
  schedule();
})();
