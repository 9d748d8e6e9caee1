"""The Starlette app: library → card → clip pages, search, and read-only file serving.

Every handler only reads: the search index (listings, hits), sidecars and card reports
(page content), the job store (progress, the same numbers /metrics exports). Files are
served from the output root (keyframes, face images, proxies) and, for playback when
there is no proxy, the original, only when it lies inside a configured watch root.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kinod.config import Config
from kinod.export.sidecar import SIDECAR_SUFFIX, SidecarError, read_sidecar
from kinod.library.index.search import SearchError, SearchFilters, search
from kinod.library.index.update import open_index
from kinod.library.ui import views
from kinod.library.ui.cards import card_by_rel, library_cards
from kinod.library.ui.files import DOWNLOAD_SUFFIXES, clip_files, waveform_png
from kinod.library.ui.paths import PathTooLong, is_inside_any, rel_to, resolve_inside
from kinod.library.ui.people_page import PeopleEdits, people_routes, people_ui
from kinod.library.ui.render import STATIC_DIR, render
from kinod.library.ui.search_view import filter_options, grouped

log = structlog.get_logger(__name__)

#: File types /media serves from the output root (no sidecars, no state).
MEDIA_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".mov", ".mp4", ".m4v", ".webm", ".mkv", ".vtt",
                            ".srt", ".wav", ".flac", ".mp3", ".m4a"})
#: Originals a browser's <video> can play as they are (else only a proxy is offered).
BROWSER_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".m4a", ".mp3", ".wav", ".flac", ".ogg"})
BROWSER_CODECS = frozenset({"h264", "avc", "avc1", "vp8", "vp9", "av1", "hevc", "h265", "aac", "mp3", "opus",
                            "flac", "pcm_s16le", "vorbis"})
_CONTENT_TYPES = {".mov": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/webm"}


class Library:
    """The configured roots and the lookups every page needs."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.out_root = Path(config.output.root).absolute()
        self.watch_roots = [Path(r.path).absolute() for r in config.watch.roots]
        self.index = open_index(config.state.dir)

    def folder(self, rel: str) -> Path:
        try:
            p = resolve_inside(self.out_root, rel) if rel else self.out_root.resolve()
        except PathTooLong as e:
            raise HTTPException(400, str(e)) from None
        if p is None or not p.is_dir():
            raise HTTPException(404, "no such card")
        return p

    def sidecar_file(self, rel: str) -> Path:
        try:
            p = resolve_inside(self.out_root, rel + SIDECAR_SUFFIX)
        except PathTooLong as e:
            raise HTTPException(400, str(e)) from None
        if p is None or not p.is_file():
            raise HTTPException(404, "no such clip")
        return p

    def media_link(self, folder: Path) -> views.Link:
        base = rel_to(self.out_root.resolve(), folder)

        def link(rel: str) -> str | None:
            return f"/media/{base}/{rel}" if base not in (None, ".") else f"/media/{rel}"

        return link

    def download_url(self, file: Path) -> str | None:
        rel = rel_to(self.out_root.resolve(), file.resolve())
        return "/download/" + quote(rel) if rel else None

    def clip_url(self, sidecar: str) -> str | None:
        rel = rel_to(self.out_root.resolve(), Path(sidecar).resolve()) or rel_to(self.out_root, Path(sidecar))
        return "/clip/" + rel[: -len(SIDECAR_SUFFIX)] if rel else None


def _page(request: Request, template: str, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(render(template, live=True, **ctx))


def _library_page(request: Request) -> HTMLResponse:
    lib: Library = request.app.state.library
    cards = library_cards(lib.config, lib.index, lib.out_root)
    for c in cards:
        c["duration"] = views.duration_text(c["duration_s"])
    return _page(request, "library.html", cards=cards, people=_people_strip(lib), title="Library")


def _people_strip(lib: Library) -> list[dict[str, Any]]:
    """Everyone on screen, with the best face a clip of theirs has; each links to their person page."""

    if not lib.index.exists():
        return []
    out = []
    for p in lib.index.people()[:30]:
        img = None
        try:
            sc = read_sidecar(Path(p["sidecar"]))
            for sec in views.sections(sc, lib.media_link(Path(p["sidecar"]).parent), views.TimeLabels(sc)):
                img = img or next((r.get("img") for r in sec.rows if sec.panel == "people" and r.get("id") == p["id"]
                                   and r.get("img")), None)
        except (SidecarError, OSError):
            pass
        out.append({**p, "img": img, "url": "/person/" + quote(p["id"], safe="")})
    return out


def _progress_json(request: Request) -> JSONResponse:
    """Each card's counts and own progress, for the pages to update without a reload."""
    lib: Library = request.app.state.library
    cards = library_cards(lib.config, lib.index, lib.out_root, details=False)
    return JSONResponse({"cards": {c["rel"]: {k: c.get(k) for k in ("clips", "problems", "progress")} for c in cards}})


def _card_page(request: Request) -> Response:
    lib: Library = request.app.state.library
    rel = request.path_params.get("path", "").strip("/")
    if not rel:  # /card/ is the library
        return RedirectResponse("/", status_code=307)
    card = card_by_rel(library_cards(lib.config, lib.index, lib.out_root, details=False), rel)
    try:
        folder = lib.folder(rel)
    except HTTPException as e:
        if e.status_code != 404 or card is None:
            raise
        folder = None  # a card in work: no output yet, its progress only
    report = _card_report(folder) if folder else None
    clips = []
    rows = (lib.index.clips_in(str(folder)) or lib.index.clips_in(str(lib.out_root / rel))) if folder else []
    for row in rows:
        try:
            sc = read_sidecar(Path(row["sidecar"]))
        except SidecarError:
            continue
        view = views.clip_view(sc, lib.media_link(folder))
        view["url"] = lib.clip_url(row["sidecar"])
        clips.append(view)
    clips.sort(key=lambda c: (not c["problems"], c["name"]))
    return _page(request, "card.html", title=f"Card {rel}", card_rel=rel, report=report, clips=clips, card=card,
                 progress=(card or {}).get("progress"), progress_rel=rel)


def _card_report(folder: Path) -> dict[str, Any] | None:
    f = folder / "card.kino.json"
    try:
        data = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == "kinod.card" else None


def _clip_page(request: Request) -> HTMLResponse:
    lib: Library = request.app.state.library
    rel = request.path_params["path"]
    side = lib.sidecar_file(rel)
    try:
        sc = read_sidecar(side)
    except SidecarError as e:
        raise HTTPException(404, str(e)) from None
    view = views.clip_view(sc, lib.media_link(side.parent))
    card_rel = rel_to(lib.out_root.resolve(), side.parent) or ""
    player = _player_url(lib, sc, side, rel)
    name = str((sc.get("source") or {}).get("name") or Path(rel).name)
    downloads = clip_files(side.parent, name, lib.download_url)
    waveform = f"/waveform/{rel}" if player and view["audio_only"] else None
    return _page(request, "clip.html", title=view["name"], clip=view, player=player, waveform=waveform,
                 downloads=downloads, card_rel="" if card_rel == "." else card_rel)


def _download(request: Request) -> Response:
    """One of the files kinod wrote in the output root (a clip's NLE files, subtitles, transcript)."""
    lib: Library = request.app.state.library
    try:
        p = resolve_inside(lib.out_root, request.path_params["path"])
    except PathTooLong as e:
        raise HTTPException(400, str(e)) from None
    if p is None or not p.is_file() or p.suffix.lower() not in DOWNLOAD_SUFFIXES:
        raise HTTPException(404, "not found")
    return FileResponse(p, filename=p.name, media_type="application/octet-stream")


def _waveform(request: Request) -> Response:
    """The waveform of a sound clip's playable file (proxy, else the original inside a watch root)."""
    lib: Library = request.app.state.library
    rel = request.path_params["path"]
    side = lib.sidecar_file(rel)
    try:
        sc = read_sidecar(side)
    except SidecarError:
        raise HTTPException(404, "not found") from None
    url = _player_url(lib, sc, side, rel)
    if url is None:
        raise HTTPException(404, "not found")
    if url.startswith("/media/"):
        src = resolve_inside(lib.out_root, url[len("/media/"):])
    else:
        src = Path(str(sc["source"]["path"])).resolve()
    try:
        png = waveform_png(src) if src is not None else b""
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("ui: no waveform", path=str(src), error=str(e))
        raise HTTPException(404, "no waveform") from None
    return Response(png, media_type="image/png")


def _player_url(lib: Library, sc: dict[str, Any], side: Path, rel: str) -> str | None:
    """The proxy when there is one, else the original (when inside a watch root)."""
    from kinod.media.proxy import proxy_path

    src = Path(str((sc.get("source") or {}).get("path") or ""))
    try:
        proxy = proxy_path(src, side.parent, lib.config.proxy)
    except (ValueError, OSError):
        proxy = None
    if proxy is not None and proxy.is_file():
        proxy_rel = rel_to(lib.out_root.resolve(), proxy.resolve())
        if proxy_rel:
            return f"/media/{proxy_rel}"
    codec = str((sc.get("probe") or {}).get("codec") or "").lower()
    playable = src.suffix.lower() in BROWSER_CONTAINERS and (not codec or codec in BROWSER_CODECS)
    if playable and src.is_file() and is_inside_any(src, lib.watch_roots):
        return f"/source/{rel}"
    return None


_FILTER_KEYS = ("person", "tag", "category", "card", "since")
#: Selects formats offered on the search page: writer format → file suffix.
SELECTS_FORMATS = {"otio": ".otio", "edl": ".edl", "fcpxml": ".fcpxml", "fcp7": ".xml"}


def _run_search(lib: Library, request: Request) -> tuple[str, SearchFilters, bool, list[Any], str | None]:
    q = request.query_params.get("q", "")[:10_000]
    filters = SearchFilters(*(request.query_params.get(k) or None for k in _FILTER_KEYS))
    semantic = request.query_params.get("semantic") in ("1", "on", "true")
    try:
        hits = search(lib.index, q, filters, limit=100, semantic=semantic) if (q.strip() or filters.any()) else []
    except SearchError as e:
        return q, filters, semantic, [], str(e)
    return q, filters, semantic, hits, None


def _search_page(request: Request) -> Response:
    lib: Library = request.app.state.library
    q, filters, semantic, hits, error = _run_search(lib, request)
    if request.query_params.get("format") == "json":
        rows = [{**h.to_json(), "url": lib.clip_url(h.sidecar), "snippet_raw": h.snippet} for h in hits]
        return JSONResponse({"query": q, "hits": rows, "error": error})
    groups = grouped(hits, lib.media_link, lib.clip_url)
    return _page(request, "search.html", title=f"Search: {q}", q=q, filters=filters, semantic=semantic, hits=hits,
                 groups=groups, error=error, options=filter_options(lib.index), formats=list(SELECTS_FORMATS),
                 query_string=str(request.query_params))


def _selects(request: Request) -> Response:
    """The chosen hits of a search as a selects timeline (same writers as ``kinod search --otio/--edl``)."""
    from kinod.library.index.selects import SelectsError, write_selects

    lib: Library = request.app.state.library
    fmt = request.query_params.get("fmt", "otio")
    if fmt not in SELECTS_FORMATS:
        raise HTTPException(400, f"format must be one of {', '.join(SELECTS_FORMATS)}")
    _q, _f, _s, hits, error = _run_search(lib, request)
    if error:
        raise HTTPException(400, error)
    picks = {int(p) for p in request.query_params.getlist("pick") if p.isdigit()}
    chosen = [h for i, h in enumerate(hits) if not picks or i in picks]
    try:
        handles = min(max(float(request.query_params.get("handles") or 2.0), 0.0), 60.0)
    except ValueError:
        raise HTTPException(400, "handles must be seconds") from None
    if not chosen:
        raise HTTPException(404, "no hits to put on a timeline")
    with tempfile.TemporaryDirectory(prefix="kinod-selects-") as tmp:
        dest = Path(tmp) / ("selects" + SELECTS_FORMATS[fmt])
        try:
            write_selects(chosen, dest, fmt, lib.config.export, handles)
        except (SelectsError, OSError, ValueError) as e:
            raise HTTPException(400, str(e)) from None
        body = dest.read_bytes()
    return Response(body, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="selects{SELECTS_FORMATS[fmt]}"'})


def _media(request: Request) -> Response:
    lib: Library = request.app.state.library
    rel = request.path_params["path"]
    try:
        p = resolve_inside(lib.out_root, rel)
    except PathTooLong as e:
        raise HTTPException(400, str(e)) from None
    if p is None or not p.is_file() or p.suffix.lower() not in MEDIA_SUFFIXES:
        raise HTTPException(404, "not found")
    return FileResponse(p, media_type=_CONTENT_TYPES.get(p.suffix.lower()))


def _source(request: Request) -> Response:
    lib: Library = request.app.state.library
    side = lib.sidecar_file(request.path_params["path"])
    try:
        src = Path(str(read_sidecar(side)["source"]["path"]))
    except (SidecarError, KeyError, TypeError):
        raise HTTPException(404, "not found") from None
    if not src.is_file() or not is_inside_any(src, lib.watch_roots):
        raise HTTPException(404, "not found")
    return FileResponse(src.resolve(), media_type=_CONTENT_TYPES.get(src.suffix.lower()))


async def _error(request: Request, exc: Exception) -> Response:
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return HTMLResponse(render("error.html", live=True, title=str(code), code=code, detail=detail), status_code=code)


def create_app(config: Config, people_edits: PeopleEdits | None = None) -> Starlette:
    """``people_edits``: the run floor's name/merge/forget, for the person page's write actions."""
    routes = [
        *people_routes(),
        Route("/", _library_page),
        Route("/progress.json", _progress_json),
        Route("/card/", _card_page, name="card_root"),
        Route("/card/{path:path}", _card_page),
        Route("/clip/{path:path}", _clip_page),
        Route("/search", _search_page),
        Route("/selects", _selects),
        Route("/media/{path:path}", _media),
        Route("/download/{path:path}", _download),
        Route("/waveform/{path:path}", _waveform),
        Route("/source/{path:path}", _source),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error, 500: _error})
    app.state.library = Library(config)
    app.state.people_ui = people_ui(people_edits)
    return app
