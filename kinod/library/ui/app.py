"""The Starlette app: library → card → clip pages, search, and read-only file serving.

Every handler only reads: the search index (listings, hits), sidecars and card reports
(page content), the job store (progress, the same numbers /metrics exports). Files are
served from the output root (keyframes, face images, proxies) and, for playback when
there is no proxy, the original, only when it lies inside a configured watch root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kinod.config import Config
from kinod.export.sidecar import SIDECAR_SUFFIX, SidecarError, read_sidecar
from kinod.library.index.search import SearchError, SearchFilters, search
from kinod.library.index.update import open_index
from kinod.library.ui import views
from kinod.library.ui.paths import PathTooLong, is_inside_any, rel_to, resolve_inside
from kinod.library.ui.people_page import PeopleEdits, people_routes, people_ui
from kinod.library.ui.render import STATIC_DIR, render

log = structlog.get_logger(__name__)

#: File types /media serves from the output root (no sidecars, no state).
MEDIA_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".mov", ".mp4", ".m4v", ".webm", ".mkv", ".vtt",
                            ".srt", ".wav", ".flac", ".mp3", ".m4a"})
#: Originals a browser's <video> can play as they are (else only a proxy is offered).
BROWSER_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".m4a", ".mp3", ".wav", ".flac", ".ogg"})
BROWSER_CODECS = frozenset({"h264", "avc", "avc1", "vp8", "vp9", "av1", "hevc", "h265", "aac", "mp3", "opus",
                            "flac", "pcm_s16le", "vorbis"})
_CONTENT_TYPES = {".mov": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/webm"}


def job_progress(config: Config) -> dict[str, Any] | None:
    """Jobs by state, clips by state, busy cards: the store's numbers, as /metrics reads them."""
    from kinod.jobs.store import JobStore, StoreError

    try:
        store = JobStore(config.state.dir / "kinod.sqlite", readonly=True)
    except StoreError:
        return None
    try:
        jobs: dict[str, int] = {}
        for (_analyzer, state), n in store.queue.counts().items():
            jobs[state] = jobs.get(state, 0) + n
        cards: dict[str, dict[str, int]] = {}
        for card, state, n in store.cards.job_states():
            cards.setdefault(card, {})[state] = n
        total = sum(jobs.values())
        finished = sum(jobs.get(s, 0) for s in ("done", "failed", "cancelled"))
        return {"jobs": jobs, "clips": store.clips.states(), "cards": cards, "total": total, "finished": finished,
                "percent": round(100 * finished / total) if total else 100}
    except Exception as e:  # a locked or older state file: show the page without progress
        log.warning("ui: job progress unavailable", error=str(e))
        return None
    finally:
        store.close()


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

    def clip_url(self, sidecar: str) -> str | None:
        rel = rel_to(self.out_root.resolve(), Path(sidecar).resolve()) or rel_to(self.out_root, Path(sidecar))
        return "/clip/" + rel[: -len(SIDECAR_SUFFIX)] if rel else None


def _page(request: Request, template: str, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(render(template, live=True, **ctx))


def _library_page(request: Request) -> HTMLResponse:
    lib: Library = request.app.state.library
    cards = []
    for f in lib.index.folders():
        rel = rel_to(lib.out_root.resolve(), Path(f["folder"])) or rel_to(lib.out_root, Path(f["folder"]))
        if rel is None:
            continue
        cards.append({**f, "rel": rel if rel != "." else "", "duration": views.duration_text(f["duration_s"])})
    return _page(request, "library.html", cards=cards, progress=job_progress(lib.config), title="Library")


def _card_page(request: Request) -> HTMLResponse:
    lib: Library = request.app.state.library
    rel = request.path_params.get("path", "")
    folder = lib.folder(rel)
    report = _card_report(folder)
    clips = []
    for row in lib.index.clips_in(str(folder)) or lib.index.clips_in(str(lib.out_root / rel)):
        try:
            sc = read_sidecar(Path(row["sidecar"]))
        except SidecarError:
            continue
        view = views.clip_view(sc, lib.media_link(folder))
        view["url"] = lib.clip_url(row["sidecar"])
        clips.append(view)
    clips.sort(key=lambda c: (not c["problems"], c["name"]))
    return _page(request, "card.html", title=f"Card {rel or '/'}", card_rel=rel, report=report, clips=clips,
                 progress=job_progress(lib.config))


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
    return _page(request, "clip.html", title=view["name"], clip=view, player=_player_url(lib, sc, side, rel),
                 card_rel="" if card_rel == "." else card_rel)


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


def _search_page(request: Request) -> Response:
    lib: Library = request.app.state.library
    q = request.query_params.get("q", "")[:10_000]
    filters = SearchFilters(*(request.query_params.get(k) or None for k in ("person", "tag", "category", "card",
                                                                              "since")))
    error = None
    hits: list[Any] = []
    try:
        semantic = lib.config.search.semantic
        hits = search(lib.index, q, filters, limit=100, semantic=semantic) if (q.strip() or filters.any()) else []
    except SearchError as e:
        error = str(e)
    rows = [{**h.to_json(), "url": lib.clip_url(h.sidecar), "snippet_raw": h.snippet} for h in hits]
    if request.query_params.get("format") == "json":
        return JSONResponse({"query": q, "hits": rows, "error": error})
    return _page(request, "search.html", title=f"Search: {q}", q=q, filters=filters, hits=rows, error=error)


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
        Route("/card/", _card_page, name="card_root"),
        Route("/card/{path:path}", _card_page),
        Route("/clip/{path:path}", _clip_page),
        Route("/search", _search_page),
        Route("/media/{path:path}", _media),
        Route("/source/{path:path}", _source),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error, 500: _error})
    app.state.library = Library(config)
    app.state.people_ui = people_ui(people_edits)
    return app
