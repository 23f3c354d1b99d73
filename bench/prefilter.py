"""Recall and speed-up of the relevance pre-filter (``model/relevance.py``).

Recall: on the test split of the labeled corpus (``seeds/corpus``; the split of ``training/data.py``)
and, when present, ``shared/data/news_events_relabeled``, the share of non-``none`` pairs whose
bi-encoder cosine reaches each threshold (those are the pairs the filter keeps).

Speed-up: statements of the test split against 10, 100 and 1,000 targets drawn at random from the
whole corpus, with measured rates of the cross-encoder (pairs/s) and of
the bi-encoder (texts/s): full cost = pairs / ce_rate; filtered cost = (statements + targets) /
bi_rate + kept pairs / ce_rate.

    python bench/prefilter.py --model models/default [--limit 600]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from stancewire.model.engine import StanceEngine
from stancewire.model.relevance import DEFAULT_THRESHOLD, SentenceEncoder, relevance_text
from stancewire.model.types import Pair
from stancewire.training.data import load_examples, split_examples

REPO = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def recall_table(
    encoder: SentenceEncoder, statements: list[str], targets: list[str], labels: list[str]
) -> dict:
    s_emb = encoder.encode(statements)
    t_emb = encoder.encode(targets)
    sims = (s_emb * t_emb).sum(1)
    positive = np.array([label != "none" for label in labels])
    return {
        f"{th:.2f}": {
            "recall_non_none": round(float((sims[positive] >= th).mean()), 4),
            "kept_none": round(float((sims[~positive] >= th).mean()), 4),
        }
        for th in THRESHOLDS
    } | {"n_non_none": int(positive.sum()), "n_none": int((~positive).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "default"))
    parser.add_argument("--limit", type=int, default=600, help="test-split statements for the speed-up")
    parser.add_argument("--threshold", type=float, action="append", help="speed-up at these (repeatable)")
    parser.add_argument("--no-recall", action="store_true", help="only the speed-up")
    args = parser.parse_args()
    encoder = SentenceEncoder.load()
    thresholds = args.threshold or [DEFAULT_THRESHOLD]
    examples = load_examples([REPO / "seeds" / "corpus"])
    test = split_examples(examples)["test"]
    result: dict = {}
    if not args.no_recall:
        columns = (
            [relevance_text(e.statement, e.context) for e in test],
            [e.target for e in test],
            [e.label for e in test],
        )
        result["corpus_test"] = recall_table(encoder, *columns)
    shared = REPO.parent / "shared" / "data" / "news_events_relabeled" / "pairs.jsonl"
    if not shared.is_file():
        shared = Path("/work/shared/data/news_events_relabeled/pairs.jsonl")
    if shared.is_file() and not args.no_recall:
        rows = [json.loads(line) for line in shared.read_text(encoding="utf-8").splitlines() if line.strip()]
        result["news_events_relabeled"] = recall_table(
            encoder,
            [relevance_text(r["statement"], r.get("context")) for r in rows],
            [r["target"] for r in rows],
            [r["label"] for r in rows],
        )

    # rates: the cross-encoder on real pairs, the bi-encoder on statements
    rng = random.Random(0)
    sample = rng.sample(test, min(args.limit, len(test)))
    statements = sorted({relevance_text(e.statement, e.context) for e in sample})
    engine = StanceEngine.load(args.model, device="cpu")
    pairs = [Pair(e.statement, e.target, e.speaker, e.context) for e in sample[:192]]
    t0 = time.perf_counter()
    engine.logits(pairs, batch_size=64)
    ce_rate = len(pairs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    s_emb = encoder.encode(statements)
    bi_rate = len(statements) / (time.perf_counter() - t0)
    all_targets = sorted({e.target for e in examples})
    speed = {}
    for k in (10, 100, 1000):
        chosen = rng.sample(all_targets, min(k, len(all_targets)))
        sims = s_emb @ encoder.encode(chosen).T
        total = len(statements) * len(chosen)
        full = total / ce_rate
        for th in thresholds:
            kept = int((sims >= th).sum())
            filtered = (len(statements) + len(chosen)) / bi_rate + kept / ce_rate
            speed[f"{k} targets, threshold {th}"] = {"pairs": total, "kept_share": round(kept / total, 4),
                                                     "speedup_est": round(full / filtered, 2)}  # fmt: skip
    result["rates"] = {"cross_encoder_pairs_per_s": round(ce_rate, 1), "statements": len(statements),
                       "bi_encoder_texts_per_s": round(bi_rate, 1)}  # fmt: skip
    result["speedup"] = speed
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
