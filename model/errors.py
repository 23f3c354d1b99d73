"""Named errors of the domain layer. Each message says what was expected, what was found and what to do.

``serve/`` translates them to HTTP status codes; the CLI prints them as one line and exits non-zero.
"""

from __future__ import annotations


class StancewireError(Exception):
    """Base class of every error stancewire raises on purpose."""


class ModelLoadError(StancewireError):
    """A model directory is missing, incomplete or inconsistent."""


class InvalidInput(StancewireError):
    """A request or a pair cannot be scored as given (empty text, too many targets, ...)."""


class DataError(StancewireError):
    """A labeled-data file has a problem; the message names the file, line and field."""
