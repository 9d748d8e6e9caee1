"""The browse UI: library → card → clip, contact sheets, transcripts, people, search.

Server-rendered HTML (Jinja2 templates shipped in the package) on a small Starlette
app served by uvicorn, with a few lines of JavaScript for click-to-seek and nothing
fetched from a CDN, so the page works on an offline edit network. It is read-only:
it reads sidecars, the search index and the job store, and serves files only from
inside the output root and the watch roots.
"""
