"""Command-line commands that need more than one package (they sit above jobs, media and run).

Why a package of their own: a domain package (``jobs``, ``export``) must not import the
pipeline, yet ``kinod retry`` has to plan clips again. Commands live here or in
``kinod/cli/main.py``, thin over the packages they drive.
"""
