"""The label set of the annotation guide, in one place.

Column ``k`` of every ``probs`` array in stancewire is the probability of ``LABELS[k]``.
"""

from __future__ import annotations

from typing import Final

LABELS: Final[tuple[str, ...]] = ("deny", "confirm", "condemn", "threaten", "none")
"""The five stance labels, in the fixed column order of every probability array."""

LABEL2ID: Final[dict[str, int]] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: Final[dict[int, str]] = dict(enumerate(LABELS))

NEUTRAL: Final[str] = "none"

# Tie-break of the guide when one statement holds several stances toward one target.
PRECEDENCE: Final[tuple[str, ...]] = ("threaten", "deny", "condemn", "confirm", "none")


def normalize_label(raw: str) -> str | None:
    """Return the canonical label for ``raw`` (case and surrounding space ignored), or None.

    Example:
        >>> normalize_label(" Deny ")
        'deny'
        >>> normalize_label("agree") is None
        True
    """
    label = raw.strip().lower()
    return label if label in LABEL2ID else None
