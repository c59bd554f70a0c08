// Rédiger, audience step: refresh the count as criteria change. The form works without it.
(function () {
  "use strict";
  var form = document.getElementById("audience");
  var out = document.getElementById("compte");
  if (!form || !out || !window.fetch) { return; }
  var timer = null;
  function refresh() {
    var query = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrf") { query.append(key, value); }
    });
    fetch(form.dataset.count + "?" + query.toString(), { credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (body) { out.textContent = body.text || body.error || ""; })
      .catch(function () {});
  }
  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 250);
  }
  form.addEventListener("change", later);
  form.addEventListener("input", later);
})();
