"""Robustness helpers (issue 13): small, one concern each, called from the daemon and the pipeline.

They live apart from the code they guard so the calls into them are one-liners that
survive a restructure of ``pipeline.py``/``daemon.py``.
"""
