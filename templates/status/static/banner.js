// The status banner: <script src=".../status/static/banner.js" data-organisation="UAI" async>
// shows the open incidents of that organisation, read from its JSON, where the script is.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var code = script.getAttribute("data-organisation");
  var origin = new URL(script.src).origin;
  var english = (navigator.language || "fr").toLowerCase().indexOf("en") === 0;
  var lang = english ? "en" : "fr";
  if (!code || !/^[A-Za-z0-9_-]{1,32}$/.test(code)) { return; }

  function element(name, text, style) {
    var node = document.createElement(name);
    if (text) { node.textContent = text; }
    if (style) { node.setAttribute("style", style); }
    return node;
  }

  function show(body) {
    var open = body.open_incidents || [];
    if (!open.length) { return; }
    var box = element("div", "", "font:15px/1.4 system-ui,sans-serif;background:#fde8e8;" +
      "color:#161616;border-left:4px solid #b60000;padding:8px 12px;margin:0 0 8px");
    box.setAttribute("role", "status");
    box.setAttribute("data-broadcast-banner", code);
    for (var i = 0; i < open.length; i++) {
      var incident = open[i];
      var line = element("p", "", "margin:0 0 4px");
      line.appendChild(element("strong", incident.title));
      line.appendChild(document.createTextNode(" (" + incident.status_label[lang] + ")"));
      box.appendChild(line);
    }
    var link = element("a", english ? "See the status page" : "Voir la page d'état des services");
    link.href = body.page_url;
    box.appendChild(link);
    script.parentNode.insertBefore(box, script);
  }

  fetch(origin + "/status/" + code + "/status.json", { credentials: "omit" })
    .then(function (answer) { return answer.ok ? answer.json() : null; })
    .then(function (body) { if (body) { show(body); } })
    .catch(function () { /* the banner is a courtesy: no banner rather than an error */ });
})();
