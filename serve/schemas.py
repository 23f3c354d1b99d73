"""Request and response models of the API (also the output of ``stancewire predict --json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, field_validator

from stancewire.model.labels import LABELS, normalize_label
from stancewire.model.types import StancePrediction, Statement, StatementStances

SEED_EXAMPLE = (
    "North Korea said it has never supplied weapons or ammunition to Russia. “We have never exported "
    "arms or ammunition to Russia before, nor will we plan to export them,” said the official, who has been "
    "described as deputy director-general of the National Defense Ministry’s general equipment bureau."
)


class StanceRequest(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "text": SEED_EXAMPLE,
                    "targets": [
                        "North Korea exported arms to Russia.",
                        "North Korea will export arms to Russia.",
                    ],
                }
            ]
        }
    }

    text: str = Field(..., description="news text: an article, a paragraph or a headline")
    targets: list[str] = Field(
        ..., description="target propositions, e.g. 'North Korea exported arms to Russia.'"
    )
    abstain_below: float | None = Field(
        None, ge=0.0, le=1.0, description="mark predictions whose confidence is below this as uncertain"
    )


class PairIn(BaseModel):
    statement: str
    target: str
    context: str | None = None
    speaker: str | None = None


class ClassifyRequest(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "pairs": [
                        {
                            "statement": "We have never exported arms or ammunition to Russia before",
                            "target": "North Korea exported arms to Russia.",
                            "speaker": "a North Korean defense official",
                        }
                    ]
                }
            ]
        }
    }

    pairs: list[PairIn]
    abstain_below: float | None = Field(None, ge=0.0, le=1.0)


class ReloadRequest(BaseModel):
    """Which model to load. No field names a path: a request never reaches outside the configured
    model directory or registry (serve another directory by adding it to the registry with
    ``stancewire models add DIR``)."""

    model_config = {"extra": "forbid"}

    version: str | None = Field(
        None,
        description="a version of the configured model registry to load (default: its current version)",
    )


class TargetStance(BaseModel):
    target: str
    label: str
    confidence: float
    probs: dict[str, float]
    abstained: bool = False


class StatementOut(BaseModel):
    text: str
    start: int
    end: int
    kind: str
    speaker: str | None
    speaker_mention: str | None
    cue: str | None
    stances: list[TargetStance]


class SpeakerOut(BaseModel):
    """One speaker of the text under its canonical name, with every way the text refers to it."""

    name: str
    mentions: list[str]
    statements: list[int]
    """Indices into ``statements``."""


class StanceResponse(BaseModel):
    model_version: str
    targets: list[str]
    statements: list[StatementOut]
    speakers: list[SpeakerOut] = []


class Prediction(BaseModel):
    label: str
    confidence: float
    probs: dict[str, float]
    abstained: bool = False


class ClassifyResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class FeedbackRequest(BaseModel):
    """A person's label for one statement × target, e.g. a correction made on the page at ``/``."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "statement": "We have never exported arms or ammunition to Russia before",
                    "target": "UN sanctions ban North Korea's arms exports.",
                    "label": "none",
                    "speaker": "the official",
                    "model_version": "20261128-013414-06245784",
                }
            ]
        }
    }

    statement: str = Field(..., description="the statement as the API returned it")
    target: str = Field(..., description="the target proposition")
    label: str = Field(..., description=f"the right label: one of {', '.join(LABELS)}")
    context: str | None = Field(None, description="surrounding sentence(s)")
    speaker: str | None = None
    request_id: str | None = Field(None, max_length=128, description="the caller's id of the analysis")
    model_version: str | None = Field(None, max_length=128, description="the model that was corrected")

    @field_validator("label")
    @classmethod
    def _known_label(cls, value: str) -> str:
        label = normalize_label(value)
        if label is None:
            raise ValueError(f"label {value!r} is not one of {list(LABELS)}")
        return label


class FeedbackResponse(BaseModel):
    id: int
    label: str


class ErrorResponse(BaseModel):
    """An error: a message, or for a request that fails validation, FastAPI's list of field errors."""

    detail: str | list[dict[str, Any]]


def _stance(target: str, p: StancePrediction) -> TargetStance:
    return TargetStance(
        target=target, label=p.label, confidence=p.confidence, probs=p.probs, abstained=p.abstained
    )


def stance_response(
    results: Sequence[StatementStances], targets: Sequence[str], version: str
) -> StanceResponse:
    """The one output shape of text analysis, shared by the API and the CLI."""
    clean = [t.strip() for t in targets]
    return StanceResponse(
        model_version=version,
        targets=clean,
        statements=[
            StatementOut(
                text=r.statement.text,
                start=r.statement.start,
                end=r.statement.end,
                kind=r.statement.kind,
                speaker=r.statement.speaker,
                speaker_mention=r.statement.speaker_mention,
                cue=r.statement.cue,
                stances=[_stance(t, p) for t, p in zip(clean, r.stances, strict=True)],
            )
            for r in results
        ],
        speakers=speaker_groups([r.statement for r in results]),
    )


def speaker_groups(statements: Sequence[Statement]) -> list[SpeakerOut]:
    """Statements grouped by canonical speaker, in order of first appearance."""
    groups: dict[str, SpeakerOut] = {}
    for i, st in enumerate(statements):
        if not st.speaker:
            continue
        group = groups.setdefault(st.speaker, SpeakerOut(name=st.speaker, mentions=[], statements=[]))
        mention = st.speaker_mention or st.speaker
        if mention not in group.mentions:
            group.mentions.append(mention)
        group.statements.append(i)
    return list(groups.values())
