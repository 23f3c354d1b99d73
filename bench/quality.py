"""Print the README's quality table for a model directory.

    python bench/quality.py --model models/default [--shared ../shared/data] [--json]

Rows: the held-out test split of the authored corpus (never trained on), the 36 annotated gold
articles end to end (extraction + speakers + stance), and, when the shared public data is present,
the relabeled real news-event sentences (real news nobody on the team wrote; not trained on).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from stancewire.eval.articles import evaluate_articles, load_articles
from stancewire.eval.run import evaluate_examples
from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.training.data import load_examples, split_examples

REPO = Path(__file__).resolve().parents[1]


def row(name: str, report: dict) -> str:
    ci = report.get("ci95", {}).get("macro_f1")
    ci_text = f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else ""
    per = " | ".join(f"{report['per_class'][x]['f1']:.2f}" for x in LABELS)
    head = f"| {name} | {report['n']} | {report['macro_f1']:.3f}{ci_text} | {report['accuracy']:.3f}"
    return f"{head} | {per} | {report['ece']:.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine = StanceEngine.load(args.model, device="cpu")
    results: dict[str, dict] = {}
    test = split_examples(load_examples([REPO / "seeds" / "corpus"]))["test"]
    results["seeds test split"] = evaluate_examples(engine, test)
    started = time.perf_counter()
    articles = evaluate_articles(
        load_articles([REPO / "seeds" / "article_000.json", REPO / "seeds" / "articles"]), engine
    )
    articles_seconds = time.perf_counter() - started
    results["gold articles, stance on extracted statements"] = articles["stance"]
    real = Path(args.shared) / "news_events_relabeled" / "pairs.jsonl"
    if real.exists():
        results["real news-event sentences (shared data)"] = evaluate_examples(engine, load_examples([real]))
    if args.json:
        print(json.dumps({"results": results, "articles": articles}, indent=1))
        return
    trained = json.loads((Path(args.model) / "metrics.json").read_text()).get("train_seconds")
    print(f"model {engine.version}; training time {trained} s")
    print()
    labels = " | ".join(f"F1 {x}" for x in LABELS)
    print(f"| data | n | macro-F1 (95% CI) | accuracy | {labels} | ECE |")
    print("|---|---|---|---|" + "---|" * len(LABELS) + "---|")
    for name, report in results.items():
        print(row(name, report))
    print()
    print(
        f"Extraction on {articles['articles']} gold articles: "
        f"precision {articles['extraction_precision']:.3f}, recall {articles['extraction_recall']:.3f}, "
        f"speaker accuracy {articles['speaker_accuracy']:.3f} "
        f"({articles['gold_quotes']} gold statements; {articles_seconds:.1f}s end to end)."
    )
    sps = results["seeds test split"].get("samples_per_second")
    print(f"Classifier throughput during evaluation: {sps:.0f} pairs/s (batch 64, fp32, this machine).")


if __name__ == "__main__":
    main()
