// pages.js localises the times of the example's pages: each <time datetime> element that the server
// wrote as "3 minutes ago" (in UTC words) shows the same in the viewer's language, keeps counting
// while the page stays open, and shows the moment in the viewer's own time zone on hover and beside
// it. The server's clock is the reference (<body data-now>), so a wrong clock on the viewer's device
// does not change what the page says. Without scripts the server's words stay.
(function () {
  "use strict";
  var serverNow = Date.parse(document.body.getAttribute("data-now") || "");
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
  var lang = document.documentElement.lang || undefined;
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  var abs = new Intl.DateTimeFormat(lang, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  var steps = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

  function words(t) {
    var diff = (t - (Date.now() + skew)) / 1000;
    if (Math.abs(diff) < 5) { return rtf ? rtf.format(0, "second") : "now"; }
    for (var i = 0; i < steps.length; i++) {
      var n = diff / steps[i][1];
      if (Math.abs(n) >= 1 || steps[i][0] === "second") {
        return rtf ? rtf.format(Math.trunc(n), steps[i][0]) : null;
      }
    }
    return null;
  }

  function update() {
    var els = document.querySelectorAll("time[datetime][data-relative]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], t = Date.parse(el.getAttribute("datetime"));
      if (isNaN(t)) { continue; }
      var w = words(t);
      if (w) { el.textContent = w; }
      var local = abs.format(new Date(t));
      el.title = local;
      el.setAttribute("data-local", local);
      var next = el.nextElementSibling;
      if (next && next.classList.contains("local-time")) { next.textContent = " (" + local + ")"; }
    }
    document.documentElement.setAttribute("data-times-localised", "1");
  }

  update();
  setInterval(update, 15000);
})();
