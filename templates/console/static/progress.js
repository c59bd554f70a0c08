/* Live progress of sends: every element with data-progress-url is refreshed from its JSON
   (the figures rendered on the server, the status, a sentence for the live region, and the
   buttons once the status changes) every few seconds, until the send is finished; nothing is
   asked while the tab is hidden. The page shows complete figures without this script. */
(function () {
  "use strict";
  var PERIOD_MS = 2500;
  var timer = null;

  function pending() {
    return Array.prototype.filter.call(
      document.querySelectorAll("[data-progress-url]"),
      function (element) { return element.getAttribute("data-final") !== "true"; }
    );
  }

  function show(element, data) {
    var id = element.getAttribute("data-send");
    var changed = element.getAttribute("data-status") !== data.status;
    element.setAttribute("data-status", data.status);
    element.innerHTML = data.html;
    element.setAttribute("data-final", data.final ? "true" : "false");
    document.querySelectorAll('[data-status-for="' + id + '"]').forEach(function (status) {
      status.textContent = data.status_label;
    });
    document.querySelectorAll('[data-controls-for="' + id + '"]').forEach(function (controls) {
      if (changed) { controls.innerHTML = data.controls; }  /* not under a focused button */
    });
    document.querySelectorAll('[data-announce-for="' + id + '"]').forEach(function (region) {
      if (region.textContent !== data.announcement) { region.textContent = data.announcement; }
    });
  }

  function refresh(element) {
    return fetch(element.getAttribute("data-progress-url"), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
      if (!response.ok || !json) {  /* signed out, or gone: stop asking */
        element.setAttribute("data-final", "true");
        return null;
      }
      return response.json().then(function (data) { show(element, data); });
    }).catch(function () { return null; });  /* offline for a moment: the next round retries */
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    if (!document.hidden && pending().length) { timer = window.setTimeout(round, PERIOD_MS); }
  }

  function round() {
    Promise.all(pending().map(refresh)).then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      window.clearTimeout(timer);
      timer = null;
    } else {
      round();
    }
  });
  schedule();
}());
