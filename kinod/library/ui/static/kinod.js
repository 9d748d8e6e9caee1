// kinod browse UI: click-to-seek. No dependencies; the page works without it.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) return;
  function seek(t) {
    var v = parseFloat(t);
    if (isNaN(v)) return;
    player.currentTime = v;
    var now = document.getElementById("now");
    if (now) now.textContent = "→ " + v.toFixed(2) + " s";
  }
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-t]");
    if (!el || !document.body.contains(player)) return;
    ev.preventDefault();
    seek(el.getAttribute("data-t"));
  });
  var m = /[#&]t=([0-9.]+)/.exec(location.hash);
  if (m) seek(m[1]);
  var words = Array.prototype.slice.call(document.querySelectorAll(".transcript .w"));
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime, cur = null;
    for (var i = 0; i < words.length; i++) {
      if (parseFloat(words[i].getAttribute("data-t")) <= t) cur = words[i]; else break;
    }
    words.forEach(function (w) { w.classList.toggle("now", w === cur); });
  });
})();
