"""The library: what an editor searches and browses, derived from the sidecars.

* :mod:`kinod.library.index`: the search index (SQLite FTS5 beside the job store);
* :mod:`kinod.library.ui`: the browse UI (Starlette, Jinja2, nothing from a CDN).

Both read the sidecars and the job store and never write either: nothing below this
package imports it, so the index can be dropped and rebuilt at any time.
"""
