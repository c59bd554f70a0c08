// broadcast console: server-rendered fragments kept current. Each element with data-live gets
// the HTML its URL answers, every 15 s while the tab is visible, and at once when it becomes
// visible again. The page works without this script; it only saves a reload.
(function () {
  "use strict";
  var EVERY_MS = 15000;

  function refresh(element) {
    var options = { credentials: "same-origin", headers: { Accept: "text/html" } };
    return fetch(element.getAttribute("data-live"), options)
      .then(function (answer) {
        if (!answer.ok || answer.redirected) throw new Error(String(answer.status));
        return answer.text();
      })
      .then(function (html) {
        if (html.trim() !== element.innerHTML.trim()) element.innerHTML = html;
      })
      .catch(function () { /* offline or signed out: the page stays as it is */ });
  }

  function refreshAll() {
    if (document.visibilityState !== "visible") return;
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), refresh);
  }

  setInterval(refreshAll, EVERY_MS);
  document.addEventListener("visibilitychange", refreshAll);
})();
