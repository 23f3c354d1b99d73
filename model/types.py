"""Typed records passed between the stages of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from stancewire.model.labels import LABELS


@dataclass(frozen=True)
class Pair:
    """One (statement, target) pair to classify.

    Attributes:
        statement: the quoted or reported words.
        target: the target proposition ("North Korea exported arms to Russia.").
        speaker: who made the statement, as named in the text; optional.
        context: the surrounding sentence(s), used only to resolve references; optional.
    """

    statement: str
    target: str
    speaker: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class StancePrediction:
    """The stance of one pair: the label, its calibrated confidence and every label's probability."""

    label: str
    confidence: float
    probs: dict[str, float]
    abstained: bool = False

    @classmethod
    def from_row(cls, row: list[float], abstain_below: float = 0.0) -> StancePrediction:
        """Build a prediction from one row of probabilities in ``LABELS`` order."""
        best = max(range(len(LABELS)), key=row.__getitem__)
        confidence = float(row[best])
        return cls(
            label=LABELS[best],
            confidence=confidence,
            probs={label: float(p) for label, p in zip(LABELS, row, strict=True)},
            abstained=confidence < abstain_below,
        )


@dataclass(frozen=True)
class Statement:
    """A quoted or reported statement found in a text.

    ``text[start:end]`` of the input is the statement's region; for a direct quote interrupted by
    its attribution ("We never did this," she said, "and never will.") ``text`` joins the parts and
    ``parts`` lists each part's span.
    """

    text: str
    start: int
    end: int
    kind: str  # "direct" | "partial" | "reported"
    speaker: str | None
    speaker_mention: str | None
    cue: str | None
    context: str
    parts: tuple[tuple[int, int], ...] = field(default=())

    def pair(self, target: str) -> Pair:
        """The pair the classifier scores for this statement (speaker as written at the statement)."""
        return Pair(self.text, target, self.speaker_mention or self.speaker, self.context)


@dataclass(frozen=True)
class StatementStances:
    """A statement with its stance toward every target, in the order the targets were given."""

    statement: Statement
    stances: tuple[StancePrediction, ...]
