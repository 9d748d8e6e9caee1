"""exporters/premiere/kinod_markers.jsx against a recorded fake of Premiere's ExtendScript API.

The script runs in Duktape (the ``dukpy`` package), with the ES5 conveniences that
ExtendScript's ES3 engine lacks removed while it runs (JSON, Array.indexOf/forEach,
Object.keys, String.trim), so a call to them fails here as it would in Premiere. The
fake implements the documented calls the script makes: ``app.project.rootItem``,
``app.getCurrentProjectViewSelection()``, ``ProjectItem.type/children/getMediaPath()/
getMarkers()``, ``MarkerCollection.numMarkers/createMarker(seconds)/getFirstMarker()/
getNextMarker()``, ``Marker.name/comments/end/setColorByIndex()``, ``File``, ``Folder``,
``$.getenv`` and ``alert``; every call is recorded.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from export_sidecars import HOSTILE, make_sidecar, marker

from kinod.export.timeline import CATEGORY_COLORS, MARKER_CATEGORIES, marker_note
from kinod.export.writers.base import PREMIERE_COLORS

dukpy = pytest.importorskip("dukpy")

SCRIPT = Path(__file__).resolve().parents[1] / "exporters" / "premiere" / "kinod_markers.jsx"
TICKS = 254016000000

FAKE_HOST = r"""
var CALLS = [];
function rec(name, args) { CALLS.push([name].concat(args || [])); }
var FS = dukpy.fs, DIRS = dukpy.dirs, ENV = dukpy.env;

function File(path) {
    this.fsName = path; this.name = path.substr(path.lastIndexOf("/") + 1);
    this.exists = FS.hasOwnProperty(path); this.length = this.exists ? FS[path].size : -1;
    this.encoding = "BINARY"; this._open = false;
}
File.prototype.open = function (mode) {
    rec("File.open", [this.fsName, mode]);
    this._open = this.exists && mode === "r";
    return this._open;
};
File.prototype.read = function () {
    if (!this._open) { throw new Error("File.read on a closed file"); }
    if (this.encoding !== "UTF-8") { throw new Error("sidecars are UTF-8: set File.encoding first"); }
    return FS[this.fsName].text;
};
File.prototype.close = function () { this._open = false; return true; };
function Folder(path) { this.fsName = path; this.name = path.substr(path.lastIndexOf("/") + 1); }
Folder.prototype.getFiles = function () {
    rec("Folder.getFiles", [this.fsName]);
    var kids = DIRS[this.fsName] || [], out = [];
    for (var k = 0; k < kids.length; k++) {
        out.push(DIRS.hasOwnProperty(kids[k]) ? new Folder(kids[k]) : new File(kids[k]));
    }
    return out;
};
Folder.selectDialog = function () { rec("Folder.selectDialog"); return null; };
var $ = { getenv: function (n) { return ENV.hasOwnProperty(n) ? ENV[n] : null; } };
function alert(text) { rec("alert", [text]); }

function Time(seconds) { this.seconds = seconds; this.ticks = String(Math.round(seconds * 254016000000)); }
function Marker(seconds, guid) {
    this.start = new Time(seconds); this._end = new Time(seconds); this.name = ""; this.comments = "";
    this._color = 0; this.guid = guid;
}
Object.defineProperty(Marker.prototype, "end", {
    get: function () { return this._end; },
    set: function (v) { rec("Marker.end", [this.guid, v]); this._end = typeof v === "number" ? new Time(v) : v; }
});
Marker.prototype.setColorByIndex = function (i) {
    rec("Marker.setColorByIndex", [this.guid, i]);
    if (typeof i !== "number" || i < 0 || i > 7) { throw new Error("colour index out of range: " + i); }
    this._color = i;
};
Marker.prototype.getColorByIndex = function () { return this._color; };
function MarkerCollection(owner) { this._items = []; this.numMarkers = 0; this._owner = owner; }
MarkerCollection.prototype.createMarker = function (seconds) {
    rec("createMarker", [this._owner, seconds]);
    if (typeof seconds !== "number" || seconds < 0) { throw new Error("createMarker wants seconds"); }
    var m = new Marker(seconds, this._owner + "#" + (this._items.length + 1));
    this._items.push(m);
    this._items.sort(function (a, b) { return a.start.seconds - b.start.seconds; });
    this.numMarkers = this._items.length;
    return m;
};
MarkerCollection.prototype.getFirstMarker = function () { return this._items[0]; };
MarkerCollection.prototype.getNextMarker = function (m) {
    for (var k = 0; k < this._items.length; k++) { if (this._items[k] === m) { return this._items[k + 1]; } }
    return undefined;
};
function Item(spec) {
    this.name = spec.name; this.type = spec.type; this._path = spec.path || "";
    this.children = { numItems: 0 };
    var kids = spec.children || [];
    for (var k = 0; k < kids.length; k++) { this.children[k] = new Item(kids[k]); }
    this.children.numItems = kids.length;
    this._markers = new MarkerCollection(spec.name);
}
Item.prototype.getMediaPath = function () { rec("getMediaPath", [this.name]); return this._path; };
Item.prototype.getMarkers = function () { rec("getMarkers", [this.name]); return this._markers; };
var ROOT = new Item(dukpy.tree);
var SELECTION = [];
var app = {
    project: { rootItem: ROOT },
    getCurrentProjectViewSelection: function () { rec("getCurrentProjectViewSelection"); return SELECTION; }
};
function snapshot(item, out) {
    if (item.type === 1) {
        var list = [];
        for (var k = 0; k < item._markers._items.length; k++) {
            var m = item._markers._items[k];
            list.push({ start: m.start.ticks, end: m._end.ticks, name: m.name, comments: m.comments, color: m._color });
        }
        out[item.name] = list;
    }
    for (var j = 0; j < item.children.numItems; j++) { snapshot(item.children[j], out); }
    return out;
}
var ES5 = { JSON: JSON, indexOf: Array.prototype.indexOf, forEach: Array.prototype.forEach, keys: Object.keys,
            trim: String.prototype.trim };
function es3(fn) {
    JSON = undefined; Array.prototype.indexOf = undefined; Array.prototype.forEach = undefined;
    Object.keys = undefined; String.prototype.trim = undefined;
    try { return fn(); } finally {
        JSON = ES5.JSON; Array.prototype.indexOf = ES5.indexOf; Array.prototype.forEach = ES5.forEach;
        Object.keys = ES5.keys; String.prototype.trim = ES5.trim;
    }
}
"""


def _host(tmp_sidecars: dict[str, dict[str, Any]], tree: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    fs: dict[str, Any] = {}
    dirs: dict[str, list[str]] = {}
    for path, sc in tmp_sidecars.items():
        text = json.dumps(sc, ensure_ascii=False)
        fs[path] = {"text": text, "size": len(text.encode())}
        parts = path.split("/")
        for i in range(2, len(parts)):
            parent, child = "/".join(parts[:i]), "/".join(parts[: i + 1])
            dirs.setdefault(parent, [])
            if child not in dirs[parent]:
                dirs[parent].append(child)
    for media, size in (("/Volumes/nas/A001/A001C001.mov", 1000), ("/Volumes/nas/A001/A001C002.mov", 1000)):
        fs[media] = {"text": "", "size": size}
    interp = dukpy.JSInterpreter()
    interp.evaljs(
        FAKE_HOST + "\nvar KINOD_NO_MAIN = true;\n" + SCRIPT.read_text(encoding="utf-8"),
        fs=fs,
        dirs=dirs,
        env=env or {},
        tree=tree,
    )
    return interp


def _run(interp: Any, expr: str) -> Any:
    return interp.evaljs(f"JSON.stringify(es3(function () {{ return {expr}; }}))")


SIDECAR_A = make_sidecar(
    name="A001C001.mov",
    folder="/mnt/nas/A001",
    rate=Fraction(30000, 1001),
    drop_frame=True,
    start_tc="00:09:59;00",
    frames=3600,
    markers=[
        marker(MARKER_CATEGORIES[i % len(MARKER_CATEGORIES)], f, HOSTILE[i % len(HOSTILE)], HOSTILE[-1 - i], d)
        for i, (f, d) in enumerate([(0, 0), (30, 0), (61, 15), (1798, 0), (1799, 0), (3599, 0), (900, 3), (901, 0)])
    ],
)
SIDECAR_B = make_sidecar(name="A001C002.mov", folder="/mnt/nas/A001", markers=[marker("speech", 12, "Talk")])
TREE = {
    "name": "root",
    "type": 3,
    "children": [
        {"name": "A001C001.mov", "type": 1, "path": "/Volumes/nas/A001/A001C001.mov"},
        {
            "name": "bin",
            "type": 2,
            "children": [
                {"name": "A001C002.mov", "type": 1, "path": "/Volumes/nas/A001/A001C002.mov"},
                {"name": "music.wav", "type": 1, "path": "/Volumes/nas/music.wav"},
            ],
        },
    ],
}
SIDECARS = {
    "/sidecars/A001/A001C001.mov.kino.json": SIDECAR_A,
    "/sidecars/A001/A001C002.mov.kino.json": SIDECAR_B,
    "/sidecars/A001/card.kino.json": {"schema": "kinod.card"},
}


def test_markers_are_added_once() -> None:
    interp = _host(SIDECARS, TREE)
    first = json.loads(_run(interp, 'KINOD.importMarkers(app, "/sidecars", {})'))
    # Same size, same name, different folder: matched by name and size.
    assert first["added"] == len(SIDECAR_A["markers"]) + 1 and first["errors"] == []
    assert first["unmatched"] == ["/Volumes/nas/music.wav"]
    creates = interp.evaljs('CALLS.filter(function (c) { return c[0] === "createMarker"; }).length')
    second = json.loads(_run(interp, 'KINOD.importMarkers(app, "/sidecars", {})'))
    assert second["added"] == 0 and second["alreadyThere"] == first["added"]
    assert interp.evaljs('CALLS.filter(function (c) { return c[0] === "createMarker"; }).length') == creates

    markers = json.loads(interp.evaljs("JSON.stringify(snapshot(ROOT, {}))"))
    got = markers["A001C001.mov"]
    want = sorted(SIDECAR_A["markers"], key=lambda m: m["frame"])
    rate = Fraction(30000, 1001)
    assert [int(g["start"]) for g in got] == [int(m["frame"] / rate * TICKS) for m in want]
    for g, m in zip(got, want, strict=True):
        assert g["name"] == m["name"]
        assert g["comments"].split("\n[kinod:")[0] == marker_note(m)
        assert g["color"] == PREMIERE_COLORS[CATEGORY_COLORS[m["category"]]]
        end = m["frame"] + m["duration_frames"]
        assert int(g["end"]) == int(end / rate * TICKS)
    assert markers["A001C002.mov"][0]["name"] == "Talk" and markers["music.wav"] == []


def test_selection_and_path_map() -> None:
    interp = _host(SIDECARS, TREE)
    interp.evaljs("SELECTION = [ROOT.children[1]];")  # the bin only
    report = json.loads(_run(interp, 'KINOD.importMarkers(app, "/sidecars", {pathMap: {"/mnt/nas": "/Volumes/nas"}})'))
    assert report["matched"] == ["/Volumes/nas/A001/A001C002.mov"] and report["added"] == 1


def test_editor_renamed_marker_is_not_duplicated() -> None:
    interp = _host(SIDECARS, TREE)
    _run(interp, 'KINOD.importMarkers(app, "/sidecars", {})')
    interp.evaljs('ROOT.children[0]._markers._items[0].name = "renamed by the editor";')
    again = json.loads(_run(interp, 'KINOD.importMarkers(app, "/sidecars", {})'))
    assert again["added"] == 0


def test_bad_sidecar_is_reported_not_fatal() -> None:
    bad = dict(SIDECARS)
    interp = _host(bad, TREE)
    interp.evaljs('FS["/sidecars/A001/broken.mov.kino.json"] = {text: "{\\"schema\\": ", size: 12};')
    interp.evaljs('DIRS["/sidecars/A001"].push("/sidecars/A001/broken.mov.kino.json");')
    report = json.loads(_run(interp, 'KINOD.importMarkers(app, "/sidecars", {})'))
    assert report["added"] == len(SIDECAR_A["markers"]) + 1
    assert len(report["errors"]) == 1 and "broken.mov.kino.json: invalid JSON" in report["errors"][0]


def test_main_uses_the_environment_and_alerts() -> None:
    interp = _host(SIDECARS, TREE, env={"KINOD_SIDECARS": "/sidecars"})
    text = interp.evaljs("es3(function () { return KINOD.main(); })")
    assert text.startswith(f"kinod markers: {len(SIDECAR_A['markers']) + 1} added")
    assert interp.evaljs('CALLS.filter(function (c) { return c[0] === "alert"; }).length') == 1


def test_json_reader_matches_python() -> None:
    interp = _host({}, {"name": "root", "type": 3})
    doc = {"s": "".join(HOSTILE), "n": [0, -1.5, 2e10, True, False, None], "o": {"": {}}, "a": []}
    for text in (json.dumps(doc), json.dumps(doc, ensure_ascii=False, indent=2)):
        got = interp.evaljs("JSON.stringify(KINOD.parseJSON(dukpy.text))", text=text)
        assert json.loads(got) == doc
    for bad in ("{", '{"a": 1,}', "[1 2]", '"\\x"', "tru", "{} x"):
        with pytest.raises(dukpy.JSRuntimeError, match="invalid JSON"):
            interp.evaljs("KINOD.parseJSON(dukpy.text)", text=bad)


def test_defaults_match_kinod() -> None:
    interp = _host({}, {"name": "root", "type": 3})
    colors = json.loads(interp.evaljs("JSON.stringify(KINOD.CATEGORY_COLORS)"))
    assert colors == {c: PREMIERE_COLORS[CATEGORY_COLORS[c]] for c in CATEGORY_COLORS}
    for m in (
        marker("shot", 1, "x", "cut 31", conf=None),
        marker("black", 2, "y", "", conf=0.5),
        SIDECAR_A["markers"][3],
    ):
        assert interp.evaljs("KINOD.note(dukpy.m)", m=m) == marker_note(m)
