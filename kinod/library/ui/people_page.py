"""The person page: best faces, every range in every clip (linking to the clip page at that
time), confidence; and, when ``ui.allow_edits`` is on, name / merge / split / forget.

Edits change sidecars, exports and the index, which is the run floor's work
(``kinod.run.people_names``); this floor may not import it, so whoever starts the UI
hands the functions in (:class:`PeopleEdits`). Write requests are refused unless edits
are allowed, the client is on the loopback interface, and the form carries this app's
secret token (a page from another site cannot read it) and, when the browser sends one,
an ``Origin`` of this very host: together a cross-site request cannot make a change.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from kinod.analyzers.faces.people import PeopleError, PeopleRegistry
from kinod.export.sidecar import SidecarError, read_sidecar
from kinod.library.ui.paths import rel_to
from kinod.library.ui.render import render


class PeopleEdits(Protocol):
    def name_person(self, config: Any, pid: str, name: str) -> Any: ...
    def merge_people(self, config: Any, src: str, dst: str) -> Any: ...
    def split_person(self, config: Any, pid: str, clips: list[str]) -> Any: ...
    def forget_person(self, config: Any, pid: str) -> Any: ...


@dataclass
class PeopleUi:
    edits: PeopleEdits | None
    token: str


def person_view(lib: Any, pid: str) -> dict[str, Any]:
    """What the page shows of one person (404 when the registry does not know them)."""
    try:
        people = PeopleRegistry(lib.config.state.dir).read()["people"]
    except PeopleError as e:
        raise HTTPException(500, str(e)) from None
    if pid not in people:
        raise HTTPException(404, "no such person")
    p = people[pid]
    out_root = lib.out_root.resolve()
    faces = [f"/media/{r}" for i in (i for s in p.get("seen", []) for i in s.get("images", []))
             if (r := rel_to(out_root, Path(i).resolve()))][:8]  # fmt: skip
    clips = []
    for s in p.get("seen", []):
        rate = _rate(s.get("sidecar"))
        url = lib.clip_url(s["sidecar"]) if s.get("sidecar") else None
        ranges = [{"start": a, "end": b, "t": round(a / rate, 2), "t_end": round(b / rate, 2),
                   "url": f"{url}#t={a / rate:.2f}" if url else None} for a, b in s.get("ranges", [])]  # fmt: skip
        clips.append({"clip": s["clip"], "name": Path(s["clip"]).name, "url": url, "ranges": ranges,
                      "confidence": s.get("confidence")})  # fmt: skip
    others = sorted((k, v.get("name")) for k, v in people.items() if k != pid)
    return {"id": pid, "name": p.get("name"), "faces": faces, "clips": clips, "others": others}


def _rate(sidecar: str | None) -> float:
    try:
        rate = (read_sidecar(Path(sidecar)).get("timeline") or {}).get("rate") if sidecar else None
        num, _, den = str(rate or "25").partition("/")
        return float(num) / float(den or 1)
    except (SidecarError, ValueError, ZeroDivisionError):
        return 25.0


def _allowed(request: Request) -> bool:
    ui: PeopleUi = request.app.state.people_ui
    lib = request.app.state.library
    if ui.edits is None or not lib.config.ui.allow_edits:
        return False
    try:
        return ipaddress.ip_address((request.client.host if request.client else "") or "").is_loopback
    except ValueError:
        return False


def _person_page(request: Request) -> HTMLResponse:
    lib = request.app.state.library
    view = person_view(lib, request.path_params["pid"])
    ui: PeopleUi = request.app.state.people_ui
    return HTMLResponse(render("person.html", live=True, title=view["name"] or view["id"], person=view,
                               edits=_allowed(request), token=ui.token))  # fmt: skip


async def _person_edit(request: Request) -> Response:
    if not _allowed(request):
        raise HTTPException(403, "editing people is off (ui.allow_edits) or not allowed from this address")
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise HTTPException(403, "cross-site request refused")
    # A plain urlencoded form, parsed here (starlette's parser needs python-multipart).
    body = (await request.body())[:65536].decode("utf-8", "replace")
    lists = parse_qs(body)
    form = {k: v[0] for k, v in lists.items()}
    ui: PeopleUi = request.app.state.people_ui
    if not hmac.compare_digest(str(form.get("token", "")), ui.token):
        raise HTTPException(403, "missing or wrong form token (reload the page)")
    config = request.app.state.library.config
    pid, action = request.path_params["pid"], request.path_params["action"]
    assert ui.edits is not None
    try:
        if action == "name" and str(form.get("name", "")).strip():
            ui.edits.name_person(config, pid, str(form["name"]).strip()[:200])
        elif action == "merge" and form.get("into"):
            ui.edits.merge_people(config, pid, str(form["into"]))
            pid = str(form["into"])
        elif action == "split" and lists.get("clip"):
            pid = ui.edits.split_person(config, pid, lists["clip"])[0]
        elif action == "forget":
            ui.edits.forget_person(config, pid)
            return RedirectResponse("/search", status_code=303)
        else:
            raise HTTPException(400, "unknown action or missing field")
    except PeopleError as e:
        raise HTTPException(400, str(e)) from None
    return RedirectResponse(f"/person/{pid}", status_code=303)


def people_routes() -> list[Route]:
    return [
        Route("/person/{pid}", _person_page),
        Route("/person/{pid}/{action}", _person_edit, methods=["POST"]),
    ]


def people_ui(edits: PeopleEdits | None) -> PeopleUi:
    return PeopleUi(edits, secrets.token_urlsafe(24))
