// kinod browse UI: click-to-seek and live card progress. No dependencies; the pages work without it.
(function () {
  "use strict";
  var player = document.getElementById("player");
  function seek(t) {
    var v = parseFloat(t);
    if (isNaN(v) || !player) return;
    player.currentTime = v;
    var now = document.getElementById("now");
    if (now) now.textContent = "→ " + v.toFixed(2) + " s";
  }
  if (player) {
    document.addEventListener("click", function (ev) {
      var el = ev.target.closest("[data-t]");
      if (!el || !document.body.contains(player)) return;
      ev.preventDefault();
      if (el.classList.contains("waveform")) {
        var r = el.getBoundingClientRect();
        if (player.duration) seek((ev.clientX - r.left) / r.width * player.duration);
        return;
      }
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
  }

  // Live progress: cards in work update in place (polling /progress.json), never a reload.
  var live = document.querySelectorAll("[data-live]");
  var grid = document.getElementById("cards");
  if (!live.length && !grid) return;
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function text(p) {
    return p.state + " · " + p.finished + " of " + p.total + " jobs · " + p.clips_done + " of " + p.clips_total +
      " clips done";
  }
  function tileFor(rel) {
    var tile = grid.querySelector('[data-card="' + CSS.escape(rel) + '"]');
    if (tile) return tile;
    tile = document.createElement("li");
    tile.className = "tile working";
    tile.setAttribute("data-card", rel);
    var a = document.createElement("a");
    a.className = "card-link";
    a.href = "/card/" + rel;
    a.innerHTML = '<span class="poster noimg"></span><b></b>';
    a.querySelector("b").textContent = rel;
    tile.appendChild(a);
    grid.insertBefore(tile, grid.firstChild);
    return tile;
  }
  function paint(box, p) {
    var live = box.querySelector(".live") || box;
    if (!live.classList.contains("live")) return;
    var bar = live.querySelector(".bar span"), state = live.querySelector(".state");
    if (bar) bar.style.width = p.percent + "%";
    if (state) state.textContent = text(p);
  }
  function ensureLive(tile) {
    if (tile.querySelector(".live")) return;
    var div = document.createElement("div");
    div.className = "live";
    div.setAttribute("data-live", tile.getAttribute("data-card"));
    div.innerHTML = '<div class="bar"><span></span></div><small class="state"></small>';
    tile.appendChild(div);
  }
  function update(data) {
    var cards = data.cards || {};
    Object.keys(cards).forEach(function (rel) {
      var c = cards[rel];
      if (grid) {
        if (!c.progress && !grid.querySelector('[data-card="' + CSS.escape(rel) + '"]')) return;
        var tile = tileFor(rel);
        var n = tile.querySelector(".problems-count");
        if (n) { n.textContent = plural(c.problems, "problem"); n.classList.toggle("bad", c.problems > 0); }
        if (c.progress) { ensureLive(tile); paint(tile, c.progress); tile.classList.toggle("working", c.progress.working); }
      }
      document.querySelectorAll('section.live[data-live="' + CSS.escape(rel) + '"]').forEach(function (s) {
        if (c.progress) paint(s, c.progress);
      });
    });
  }
  function poll() {
    fetch("/progress.json", {cache: "no-store"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) update(d); }).catch(function () {})
      .then(function () { setTimeout(poll, 1500); });
  }
  poll();
})();
