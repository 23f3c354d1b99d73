"""Baselines scored beside the model in ``stancewire eval --baselines``: what the model must beat.

Each baseline follows the scikit-learn contract: ``fit(examples)`` returns ``self``, learned
attributes end in ``_``, and ``predict_proba(examples)`` gives an ``(N, K)`` array with columns in
``LABELS`` order, so the same metric functions score them and the model.

- ``majority``: the most frequent training label for every row (its probabilities are the label
  shares of the training rows).
- ``tfidf-logreg``: word 1-2 gram TF-IDF of ``"target [SEP] statement"`` and a logistic regression.
- ``lexicon``: a short hand-written list of cue words per label, checked in the guide's tie-break
  order; the cues are surface forms, which the guide warns are never sufficient, and that is the
  point of the baseline. Its probabilities are hard (1 on the chosen label).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stancewire.model.errors import DataError
from stancewire.model.labels import LABEL2ID, LABELS, NEUTRAL
from stancewire.training.data import Example, load_examples, split_examples


class Baseline(Protocol):
    name: str

    def fit(self, examples: Sequence[Example]) -> Baseline: ...

    def predict_proba(self, examples: Sequence[Example]) -> np.ndarray: ...


class MajorityBaseline:
    """Always the most frequent label of the rows it was fitted on."""

    name = "majority"

    def fit(self, examples: Sequence[Example]) -> MajorityBaseline:
        if not examples:
            raise DataError("the majority baseline needs at least one labeled row to fit on")
        counts = Counter(e.label for e in examples)
        self.priors_ = np.array([counts[label] for label in LABELS], dtype=np.float64) / len(examples)
        return self

    def predict_proba(self, examples: Sequence[Example]) -> np.ndarray:
        return np.tile(self.priors_, (len(examples), 1))


def pair_text(example: Example) -> str:
    return f"{example.target} [SEP] {example.statement}"


class TfidfBaseline:
    """Word 1-2 gram TF-IDF over ``"target [SEP] statement"`` and a multinomial logistic regression."""

    name = "tfidf-logreg"

    def __init__(self, max_iter: int = 1000, c: float = 1.0) -> None:
        self.max_iter = max_iter
        self.c = c

    def fit(self, examples: Sequence[Example]) -> TfidfBaseline:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = {e.label for e in examples}
        if len(labels) < 2:
            raise DataError(
                f"the TF-IDF baseline needs training rows of at least two labels, found {sorted(labels)}"
            )
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        features = self.vectorizer_.fit_transform([pair_text(e) for e in examples])
        self.classifier_ = LogisticRegression(max_iter=self.max_iter, C=self.c)
        self.classifier_.fit(features, [LABEL2ID[e.label] for e in examples])
        return self

    def predict_proba(self, examples: Sequence[Example]) -> np.ndarray:
        probs = np.zeros((len(examples), len(LABELS)))
        if examples:
            # labels absent from the training rows keep probability 0
            fitted = self.classifier_.predict_proba(
                self.vectorizer_.transform([pair_text(e) for e in examples])
            )
            probs[:, self.classifier_.classes_] = fitted
        return probs


LEXICON: dict[str, tuple[str, ...]] = {
    "threaten": (
        r"\bthreat(en|ened|ens|ening)?\b",
        r"\bretaliat",
        r"\bwarn(ed|s|ing)?\b.*\b(would|will)\b",
        r"\b(pay|paid) (a|the) (heavy |high )?price\b",
        r"\ball options\b",
        r"\bheld accountable\b",
        r"\bstrike back\b",
        r"\bconsequences\b",
    ),
    "deny": (
        r"\bden(y|ied|ies|ying|ial)\b",
        r"\breject(ed|s|ing)?\b",
        r"\bbaseless\b",
        r"\bnever\b",
        r"\bfalse(ly)?\b",
        r"\bfabricat",
        r"\bunfounded\b",
        r"\bnothing to do with\b",
        r"\bnot true\b",
        r"\brumou?rs?\b",
    ),
    "condemn": (
        r"\bcondemn",
        r"\baccus",
        r"\bdenounc",
        r"\bcriticis|\bcriticiz",
        r"\bunacceptable\b",
        r"\breckless\b",
        r"\billegal\b",
        r"\bdisgrace",
        r"\boutrage",
    ),
    "confirm": (
        r"\bconfirm(ed|s)?\b",
        r"\badmit(s|ted)?\b",
        r"\backnowledg",
        r"\bclaimed responsibility\b",
        r"\bcarried out\b",
        r"\bit is true\b",
        r"\bsaid\b",
    ),
}
"""Cue patterns per label, checked in this order (the guide's tie-break: threaten > deny > condemn >
confirm); the first label with a matching cue wins, else ``none``."""


LEXICON_NOTE = "nothing (a hand-written cue lexicon)"


class LexiconBaseline:
    """The first label (in tie-break order) whose cue appears in the statement, else ``none``."""

    name = "lexicon"

    def __init__(self, lexicon: dict[str, tuple[str, ...]] | None = None) -> None:
        self.lexicon = LEXICON if lexicon is None else lexicon

    def fit(self, examples: Sequence[Example]) -> LexiconBaseline:
        # nothing is learned; compiling here keeps the estimator contract (fit, then predict)
        self.patterns_ = {
            label: [re.compile(p, re.IGNORECASE) for p in cues] for label, cues in self.lexicon.items()
        }
        return self

    def label_of(self, statement: str) -> str:
        for label, patterns in self.patterns_.items():
            if any(p.search(statement) for p in patterns):
                return label
        return NEUTRAL

    def predict_proba(self, examples: Sequence[Example]) -> np.ndarray:
        probs = np.zeros((len(examples), len(LABELS)))
        for i, e in enumerate(examples):
            probs[i, LABEL2ID[self.label_of(e.statement)]] = 1.0
        return probs


@dataclass(frozen=True)
class TrainingRows:
    """Rows to fit the learned baselines on, and where they came from (for the report)."""

    examples: list[Example]
    origin: str


def load_training_rows(
    data: Sequence[str],
    extra_sources: Sequence[str] = (),
    dev_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> list[Example]:
    """The train split of ``data`` plus ``extra_sources``, exactly as ``stancewire train`` splits them."""
    from stancewire.training.sources import load_source

    examples = load_examples(list(data))
    for spec in extra_sources:
        examples.extend(load_source(spec))
    return split_examples(examples, dev_fraction, test_fraction)["train"]


def model_training_rows(model_dir: str | Path) -> TrainingRows:
    """The train split of the data a model was trained on, read from its ``train_config.json``.

    Paths in the config are relative to the current directory (as ``stancewire train`` took them).
    A model registry means its current version; a retrained version's replay data counts as
    training data (the model saw a sample of it, the baseline gets all of its train split).
    Raises DataError when the config or the data cannot be read.
    """
    from stancewire.model.registry import resolve_model_dir

    path = resolve_model_dir(model_dir) / "train_config.json"
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read the model's training config ({exc})") from exc
    data = [str(d) for d in config.get("data") or []]
    data += [str(d) for d in config.get("replay_data") or [] if str(d) not in data]
    if not data:
        raise DataError(f"{path}: lists no training data")
    extra = [str(s) for s in config.get("extra_sources") or []]
    rows = load_training_rows(
        data, extra, float(config.get("dev_fraction", 0.1)), float(config.get("test_fraction", 0.1))
    )
    return TrainingRows(rows, f"the train split of {', '.join(data + extra)} ({len(rows)} rows)")


def fit_baselines(train: TrainingRows | None, evaluated: Sequence[Example]) -> list[tuple[Baseline, str]]:
    """Fitted baselines, each with a note saying what it was fitted on (``fitted_on`` in the report).

    Without training rows the TF-IDF baseline is left out and the majority baseline takes the
    majority of the evaluated rows themselves (an optimistic floor, and the report says so).
    """
    lexicon: Baseline = LexiconBaseline().fit([])
    if train is None or not train.examples:
        majority: Baseline = MajorityBaseline().fit(evaluated)
        return [(majority, "the evaluated rows themselves (no training rows)"), (lexicon, LEXICON_NOTE)]
    return [
        (MajorityBaseline().fit(train.examples), train.origin),
        (TfidfBaseline().fit(train.examples), train.origin),
        (lexicon, LEXICON_NOTE),
    ]
