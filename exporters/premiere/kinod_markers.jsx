/*
 * kinod markers for Adobe Premiere Pro (ExtendScript).
 *
 * Puts kinod's markers on the project items they belong to: for each selected item in
 * the Project panel (or every clip of the project when nothing is selected) it finds
 * the kinod sidecar (<clip>.kino.json) of the item's media file and adds each marker
 * with markers.createMarker(seconds), its name, its comment, its end (ranged markers)
 * and its colour (setColorByIndex). Each marker's comment ends with a tag such as
 * [kinod:shot@30:1a2b3c4d]; a marker whose tag is already on the item is skipped, so
 * running the script again adds none.
 *
 * Written for ExtendScript's ES3 engine: no JSON object, no Array.indexOf/forEach,
 * no String.trim. Sidecars are parsed by the small strict JSON reader below, never
 * with eval, because a sidecar is data.
 *
 * Run: see README.md (File > Scripts is not in Premiere; use the kinod panel or the
 * ExtendScript Debugger). Set KINOD_SIDECARS to the sidecar folder to skip the dialog.
 */

var KINOD = {};

/* Premiere marker colour index per kinod category (0 green, 1 red, 2 purple, 3 orange,
 * 4 yellow, 5 white, 6 blue, 7 cyan): kinod's default colours, edit to taste. */
KINOD.CATEGORY_COLORS = {
    shot: 6,
    black: 5,
    freeze: 3,
    inactive: 4,
    silence: 5,
    speech: 0,
    face: 2,
    person: 2,
    text: 7,
    tag: 2,
    problem: 1
};

KINOD.SUFFIX = ".kino.json";
KINOD.TICKS_PER_SECOND = 254016000000;

/* ------------------------------------------------------------------ JSON reader */

KINOD.parseJSON = function (text) {
    var i = 0;
    function fail(what) {
        throw new Error("invalid JSON at character " + i + ": " + what);
    }
    function ws() {
        while (i < text.length) {
            var c = text.charAt(i);
            if (c === " " || c === "\t" || c === "\n" || c === "\r") {
                i++;
            } else {
                break;
            }
        }
    }
    function str() {
        var out = "";
        i++; // opening quote
        while (i < text.length) {
            var c = text.charAt(i++);
            if (c === "\"") {
                return out;
            }
            if (c === "\\") {
                var e = text.charAt(i++);
                if (e === "u") {
                    var hex = text.substr(i, 4);
                    if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
                        fail("bad \\u escape");
                    }
                    out += String.fromCharCode(parseInt(hex, 16));
                    i += 4;
                } else if (e === "n") {
                    out += "\n";
                } else if (e === "t") {
                    out += "\t";
                } else if (e === "r") {
                    out += "\r";
                } else if (e === "b") {
                    out += "\b";
                } else if (e === "f") {
                    out += "\f";
                } else if (e === "\"" || e === "\\" || e === "/") {
                    out += e;
                } else {
                    fail("bad escape");
                }
            } else {
                out += c;
            }
        }
        fail("unterminated string");
    }
    function num() {
        var m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+\-]?[0-9]+)?/.exec(text.substr(i));
        if (!m) {
            fail("bad number");
        }
        i += m[0].length;
        return parseFloat(m[0]);
    }
    function word(w, value) {
        if (text.substr(i, w.length) !== w) {
            fail("unexpected token");
        }
        i += w.length;
        return value;
    }
    function value() {
        ws();
        var c = text.charAt(i);
        if (c === "{") {
            var obj = {};
            i++;
            ws();
            if (text.charAt(i) === "}") {
                i++;
                return obj;
            }
            while (true) {
                ws();
                if (text.charAt(i) !== "\"") {
                    fail("expected a key");
                }
                var key = str();
                ws();
                if (text.charAt(i++) !== ":") {
                    fail("expected ':'");
                }
                obj[key] = value();
                ws();
                var sep = text.charAt(i++);
                if (sep === "}") {
                    return obj;
                }
                if (sep !== ",") {
                    fail("expected ',' or '}'");
                }
            }
        }
        if (c === "[") {
            var arr = [];
            i++;
            ws();
            if (text.charAt(i) === "]") {
                i++;
                return arr;
            }
            while (true) {
                arr.push(value());
                ws();
                var s2 = text.charAt(i++);
                if (s2 === "]") {
                    return arr;
                }
                if (s2 !== ",") {
                    fail("expected ',' or ']'");
                }
            }
        }
        if (c === "\"") {
            return str();
        }
        if (c === "t") {
            return word("true", true);
        }
        if (c === "f") {
            return word("false", false);
        }
        if (c === "n") {
            return word("null", null);
        }
        return num();
    }
    var result = value();
    ws();
    if (i !== text.length) {
        fail("trailing characters");
    }
    return result;
};

/* --------------------------------------------------------------------- helpers */

KINOD.basename = function (path) {
    var p = String(path).replace(/\\/g, "/");
    return p.substr(p.lastIndexOf("/") + 1);
};

KINOD.slashes = function (path) {
    return String(path).replace(/\\/g, "/");
};

KINOD.endsWith = function (s, tail) {
    return s.length >= tail.length && s.substr(s.length - tail.length) === tail;
};

KINOD.hash = function (text) {
    /* djb2, as 8 hex digits: a short stable id for a marker name */
    var h = 5381;
    var s = String(text);
    for (var k = 0; k < s.length; k++) {
        h = ((h * 33) ^ s.charCodeAt(k)) % 4294967296;
        if (h < 0) {
            h += 4294967296;
        }
    }
    var hex = h.toString(16);
    while (hex.length < 8) {
        hex = "0" + hex;
    }
    return hex;
};

KINOD.rate = function (text) {
    /* "30000/1001" -> {num: 30000, den: 1001} */
    var parts = String(text).split("/");
    var num = parseFloat(parts[0]);
    var den = parts.length > 1 ? parseFloat(parts[1]) : 1;
    if (!(num > 0) || !(den > 0)) {
        throw new Error("invalid frame rate " + text);
    }
    return { num: num, den: den };
};

KINOD.seconds = function (frame, rate) {
    /* exact in ticks: Premiere rounds to the nearest tick, which is then exactly the frame */
    var ticks = Math.round(frame * rate.den * KINOD.TICKS_PER_SECOND / rate.num);
    return ticks / KINOD.TICKS_PER_SECOND;
};

KINOD.note = function (m) {
    var comment = m.comment ? String(m.comment).replace(/^\s+|\s+$/g, "") : "";
    var facts = [];
    var analyzer = m.analyzer ? String(m.analyzer) : "";
    if (analyzer && comment.toLowerCase().substr(0, analyzer.length) !== analyzer.toLowerCase()) {
        facts.push(analyzer);
    }
    if (typeof m.confidence === "number") {
        facts.push("confidence " + m.confidence.toFixed(2));
    }
    var category = m.category ? String(m.category) : "";
    var seen = false;
    for (var k = 0; k < facts.length; k++) {
        seen = seen || facts[k] === category;
    }
    if (category && !seen) {
        facts.push(category);
    }
    var tail = "[" + facts.join(", ") + "]";
    return comment ? comment + " " + tail : tail;
};

KINOD.tag = function (m) {
    return "[kinod:" + m.category + "@" + m.frame + ":" + KINOD.hash(m.name) + "]";
};

/* ---------------------------------------------------------------- sidecar index */

KINOD.readText = function (path) {
    var f = new File(path);
    f.encoding = "UTF-8";
    if (!f.open("r")) {
        return null;
    }
    var text = f.read();
    f.close();
    return text;
};

KINOD.listSidecars = function (folderPath, out) {
    var entries = new Folder(folderPath).getFiles();
    for (var k = 0; k < entries.length; k++) {
        var e = entries[k];
        if (e instanceof Folder) {
            if (e.name.charAt(0) !== ".") {
                KINOD.listSidecars(e.fsName, out);
            }
        } else if (KINOD.endsWith(e.name, KINOD.SUFFIX) && e.name !== "card" + KINOD.SUFFIX) {
            out.push(e.fsName);
        }
    }
    return out;
};

KINOD.index = function (folderPath, report) {
    var index = { byPath: {}, byName: {}, byNameSize: {} };
    var files = KINOD.listSidecars(folderPath, []);
    for (var k = 0; k < files.length; k++) {
        var sc = null;
        try {
            var text = KINOD.readText(files[k]);
            sc = text === null ? null : KINOD.parseJSON(text);
        } catch (err) {
            report.errors.push(files[k] + ": " + err.message);
        }
        if (!sc || sc.schema !== "kinod.clip" || !sc.timeline || !sc.source) {
            continue;
        }
        var name = String(sc.source.name);
        index.byPath[KINOD.slashes(sc.source.path)] = sc;
        index.byName[name] = index.byName.hasOwnProperty(name) ? "ambiguous" : sc;
        var key = name + "|" + sc.source.size;
        index.byNameSize[key] = index.byNameSize.hasOwnProperty(key) ? "ambiguous" : sc;
    }
    return index;
};

KINOD.match = function (index, mediaPath, pathMap) {
    var p = KINOD.slashes(mediaPath);
    if (index.byPath.hasOwnProperty(p)) {
        return index.byPath[p];
    }
    for (var daemonPrefix in pathMap) {
        if (pathMap.hasOwnProperty(daemonPrefix)) {
            var local = KINOD.slashes(pathMap[daemonPrefix]);
            if (p.substr(0, local.length) === local) {
                var mapped = KINOD.slashes(daemonPrefix) + p.substr(local.length);
                if (index.byPath.hasOwnProperty(mapped)) {
                    return index.byPath[mapped];
                }
            }
        }
    }
    var name = KINOD.basename(p);
    var f = new File(mediaPath);
    var key = name + "|" + (f.exists ? f.length : "?");
    if (index.byNameSize.hasOwnProperty(key) && index.byNameSize[key] !== "ambiguous") {
        return index.byNameSize[key];
    }
    if (index.byName.hasOwnProperty(name) && index.byName[name] !== "ambiguous") {
        return index.byName[name];
    }
    return null;
};

/* ---------------------------------------------------------------- project items */

KINOD.collectItems = function (item, out) {
    /* ProjectItemType: 1 clip, 2 bin, 3 root, 4 file */
    if (item.type === 2 || item.type === 3) {
        for (var k = 0; k < item.children.numItems; k++) {
            KINOD.collectItems(item.children[k], out);
        }
    } else if (item.type === 1 || item.type === 4) {
        out.push(item);
    }
    return out;
};

KINOD.targetItems = function (app) {
    var selection = typeof app.getCurrentProjectViewSelection === "function" ? app.getCurrentProjectViewSelection() : null;
    var items = [];
    if (selection && selection.length) {
        for (var k = 0; k < selection.length; k++) {
            KINOD.collectItems(selection[k], items);
        }
        return items;
    }
    return KINOD.collectItems(app.project.rootItem, items);
};

KINOD.existingTags = function (markers) {
    var tags = {};
    var m = markers.numMarkers > 0 ? markers.getFirstMarker() : null;
    while (m) {
        var found = String(m.comments || "").match(/\[kinod:[^\]]*\]/g);
        if (found) {
            for (var k = 0; k < found.length; k++) {
                tags[found[k]] = true;
            }
        }
        m = markers.getNextMarker(m);
    }
    return tags;
};

/* ----------------------------------------------------------------------- import */

KINOD.importMarkers = function (app, sidecarFolder, options) {
    var opts = options || {};
    var colors = opts.colors || KINOD.CATEGORY_COLORS;
    var report = { added: 0, alreadyThere: 0, matched: [], unmatched: [], errors: [] };
    if (!app.project) {
        report.errors.push("no project is open");
        return report;
    }
    var index = KINOD.index(sidecarFolder, report);
    var items = KINOD.targetItems(app);
    for (var k = 0; k < items.length; k++) {
        var item = items[k];
        var path = item.getMediaPath();
        if (!path) {
            continue;
        }
        var sc = KINOD.match(index, path, opts.pathMap || {});
        if (!sc) {
            report.unmatched.push(path);
            continue;
        }
        report.matched.push(path);
        var rate = KINOD.rate(sc.timeline.rate);
        var markers = item.getMarkers();
        var tags = KINOD.existingTags(markers);
        var list = sc.markers || [];
        for (var j = 0; j < list.length; j++) {
            var m = list[j];
            var tag = KINOD.tag(m);
            if (tags[tag]) {
                report.alreadyThere++;
                continue;
            }
            var marker = markers.createMarker(KINOD.seconds(m.frame, rate));
            marker.name = String(m.name);
            marker.comments = KINOD.note(m) + "\n" + tag;
            if (m.duration_frames > 0) {
                marker.end = KINOD.seconds(m.frame + m.duration_frames, rate);
            }
            var colorIndex = colors.hasOwnProperty(m.category) ? colors[m.category] : 1;
            marker.setColorByIndex(colorIndex);
            tags[tag] = true;
            report.added++;
        }
    }
    return report;
};

KINOD.summary = function (report) {
    var lines = ["kinod markers: " + report.added + " added, " + report.alreadyThere + " already there, " +
        report.matched.length + " item(s) matched, " + report.unmatched.length + " without a sidecar"];
    for (var k = 0; k < report.errors.length; k++) {
        lines.push("error: " + report.errors[k]);
    }
    return lines.join("\n");
};

KINOD.main = function () {
    var folder = $.getenv("KINOD_SIDECARS");
    if (!folder) {
        var picked = Folder.selectDialog("Folder with kinod sidecars (.kino.json)");
        if (!picked) {
            return "cancelled";
        }
        folder = picked.fsName;
    }
    var text = KINOD.summary(KINOD.importMarkers(app, folder, {}));
    alert(text);
    return text;
};

if (typeof KINOD_NO_MAIN === "undefined") {
    KINOD.main();
}
