"""kinod: a self-indexing footage library for shared storage."""

__version__ = "0.1.0"
