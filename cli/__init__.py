"""stancewire: who denied, confirmed, condemned or threatened what, in news text."""

from __future__ import annotations

__version__ = "0.1.0"
