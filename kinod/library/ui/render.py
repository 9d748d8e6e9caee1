"""Jinja2 rendering shared by the live pages and the static ``card.html``.

One template set, so the card page a browser gets from ``kinod serve`` and the
``card.html`` written beside a card's outputs are the same page. The static file has no
server behind it: its links are relative file paths, its CSS and script are inlined,
and there are no clip pages to link to.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from kinod import __version__

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mark"] = mark_snippet
    return env


def mark_snippet(snippet: str) -> Any:
    """Escape a search snippet, then turn the index's match markers into <mark>."""
    from markupsafe import Markup, escape

    from kinod.library.index.search import SNIPPET_CLOSE, SNIPPET_OPEN

    text = str(escape(snippet))
    return Markup(text.replace(SNIPPET_OPEN, "<mark>").replace(SNIPPET_CLOSE, "</mark>"))


def _inline_assets() -> dict[str, str]:
    return {name: (STATIC_DIR / name).read_text(encoding="utf-8") for name in ("kinod.css", "kinod.js")}


def render(template: str, *, live: bool, **ctx: Any) -> str:
    """Render a page; ``live=False`` inlines CSS/JS so the file stands alone."""
    assets = {} if live else _inline_assets()
    return environment().get_template(template).render(live=live, assets=assets, version=__version__, **ctx)


def render_card_report(report: dict[str, Any]) -> str:
    """The static ``card.html``: the card page, with each clip read from the sidecar the report names."""
    from kinod.export.sidecar import SidecarError, read_sidecar
    from kinod.library.ui.views import clip_view
    clips = []
    for c in report.get("clips") or []:
        side = (c.get("outputs") or {}).get("sidecar") if isinstance(c, dict) else None
        if not side:
            continue
        try:
            sc = read_sidecar(Path(side))
        except SidecarError:
            continue
        folder = Path(side).parent
        clips.append(clip_view(sc, lambda rel, folder=folder: rel))
    clips.sort(key=lambda c: (not c["problems"], c["name"]))
    card = report.get("card") or {}
    return render("card.html", live=False, title=f"Card {card.get('name', '')}", card_rel=card.get("name", ""),
                  report=report, clips=clips, progress=None)
