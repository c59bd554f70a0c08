// Status pages: keep "mis à jour il y a 3 min" true, and follow a page by web push.
(function () {
  "use strict";
  var locale = document.body.getAttribute("data-locale") || "fr";

  function ago(iso) {
    var seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
    if (Math.abs(seconds) < 10) { return locale === "en" ? "just now" : "à l'instant"; }
    var format = new Intl.RelativeTimeFormat(locale, { numeric: "always", style: "short" });
    var units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
        return format.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
    return "";
  }

  function refreshTimes() {
    var times = document.querySelectorAll("time[data-relative]");
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      t.textContent = t.getAttribute("data-relative")
        .replace("{ago}", ago(t.getAttribute("datetime")))
        .replace("{when}", t.getAttribute("data-when"));
    }
  }

  function base64UrlToBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function say(box, key) {
    box.querySelector(".push-message").textContent = box.getAttribute("data-text-" + key);
    if (key === "offline" || key === "refused" || key === "unavailable" || key === "denied") {
      var email = document.getElementById("email");
      if (email) { email.focus(); }
    }
  }

  // A push service out of reach may leave subscribe() pending for long: give up after 15 s.
  function withinSeconds(promise, seconds) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error("timeout")); }, seconds * 1000);
      promise.then(function (value) { clearTimeout(timer); resolve(value); },
        function (error) { clearTimeout(timer); reject(error); });
    });
  }

  function follow(box, registration) {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { say(box, "denied"); return null; }
      return fetch("/api/v1/push/public-key").then(function (answer) {
        if (!answer.ok) { throw new Error("no key"); }
        return answer.json();
      }).then(function (body) {
        return withinSeconds(registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: base64UrlToBytes(body.public_key)
        }), 15).catch(function () { say(box, "offline"); return null; });
      }).then(function (subscription) {
        if (!subscription) { return null; }
        var data = subscription.toJSON();
        data.organisation_id = Number(box.getAttribute("data-organisation-id"));
        data.locale = locale;
        return fetch("/api/v1/push/follow", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(data)
        }).then(function (answer) { say(box, answer.ok ? "followed" : "refused"); });
      });
    }).catch(function () { say(box, "refused"); });
  }

  function offerPush() {
    var box = document.querySelector(".push");
    if (!box) { return; }
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      say(box, "unavailable");
      return;
    }
    navigator.serviceWorker.register("/status/sw.js", { scope: "/status/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      var button = box.querySelector(".push-button");
      button.hidden = false;
      button.addEventListener("click", function () { follow(box, registration); });
    }).catch(function () { say(box, "unavailable"); });
  }

  refreshTimes();
  setInterval(refreshTimes, 30000);
  offerPush();
})();
