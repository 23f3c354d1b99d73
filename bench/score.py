"""Throughput of ``stancewire score`` on a synthetic archive built from templates.

Prints articles/s and pairs/s for: the local engine with 1 and 2 extraction workers, the Ray engine
with 2 actors (when ``stancewire[ray]`` is installed), and the relevance pre-filter on and off with
100 targets. ``pairs/s`` counts every statement x target pair the run covered (scored or skipped by
the pre-filter), so runs with and without the filter compare directly.

    python bench/score.py --model models/default --articles 10000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from stancewire.serve.batch import ScoreOptions, score_archive

ACTORS = ["the defence ministry", "Prime Minister Ana Kovac", "a senior official", "the union leader",
          "the opposition party", "the company spokesman", "Foreign Minister Ivo Lang",
          "the regional governor"]  # fmt: skip
SUBJECTS = [("Arden", "Belmark"), ("Corvia", "Dunmore"), ("Estrel", "Falkwood"), ("Garrow", "Helmsey"),
            ("Istria", "Jorvik"), ("Kelder", "Lomond"), ("Marrow", "Norland"), ("Ostia", "Pellam"),
            ("Quarry", "Rhodan"), ("Sorrel", "Tamsin")]  # fmt: skip
VERBS = [
    "exported arms to",
    "signed a gas deal with",
    "closed its border with",
    "sent troops to",
    "imposed tariffs on",
]
CLAIMS = [
    "“{a} has never {v} {b},” {s} said.",
    "“We strongly condemn the decision of {a} to deny it {v} {b},” {s} said.",
    "{S} said that {a} had {v} {b} last year.",
    "“If {a} {v} {b} again, there will be consequences,” {s} warned.",
    "{S} confirmed on Tuesday that {a} {v} {b}.",
    "“The weather was unusually mild for the season,” {s} said.",
]
FILLER = [
    "The statement came after weeks of speculation in the regional press.",
    "Analysts said the dispute could take months to resolve.",
    "Officials did not respond to requests for further comment.",
]


def synthetic_archive(path: Path, n: int, seed: int = 0) -> None:
    """``n`` articles of 3-5 attributed statements each, with dates over 2024 and three sources."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            sentences = []
            for _ in range(rng.randint(3, 5)):
                a, b = rng.choice(SUBJECTS)
                s = rng.choice(ACTORS)
                claim = rng.choice(CLAIMS).format(a=a, b=b, v=rng.choice(VERBS), s=s, S=s[0].upper() + s[1:])
                sentences += [claim, rng.choice(FILLER)]
            date = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
            row = {"id": f"s{i:06d}", "date": date, "source": ["Wire A", "Wire B", "Wire C"][i % 3],
                   "text": " ".join(sentences)}  # fmt: skip
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def synthetic_targets(path: Path, k: int) -> None:
    """``k`` distinct target propositions over the same actors and verbs (few relevant to any statement)."""
    props = [f"{a} {v} {b}." for a, b in SUBJECTS for v in VERBS]
    props += [f"{b} {v} {a}." for a, b in SUBJECTS for v in VERBS]
    extra = [f"The government of {a} will hold elections in {m}." for a, _ in SUBJECTS for m in range(1, 100)]
    chosen = (props + extra)[:k]
    path.write_text(
        "".join(json.dumps({"id": f"t{i}", "proposition": p}) + "\n" for i, p in enumerate(chosen))
    )


def run(label: str, model: str, archive: Path, targets: Path, work: Path, **opts: Any) -> dict[str, Any]:
    out = work / label.replace(" ", "_")
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = score_archive(model, archive, targets, out, ScoreOptions(progress=False, **opts))
    seconds = time.perf_counter() - start
    covered = summary["rows"] + summary["pairs_skipped"]
    result = {"run": label, "seconds": round(seconds, 1),
              "articles_per_s": round(summary["articles"] / seconds, 2),
              "pairs_per_s": round(covered / seconds, 1), "scored_pairs": summary["rows"],
              "skipped_pairs": summary["pairs_skipped"]}  # fmt: skip
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=10, help="targets of the engine comparisons")
    parser.add_argument(
        "--filter-articles",
        type=int,
        default=None,
        help="articles of the 100-target runs (default --articles)",
    )
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--skip", action="append", default=[], help="skip runs whose label contains this")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stancewire-bench-"))
    archive = work / "archive.jsonl"
    synthetic_archive(archive, args.articles)
    small = work / "archive_filter.jsonl"
    synthetic_archive(small, args.filter_articles or args.articles)
    few, many = work / "targets_few.jsonl", work / "targets_100.jsonl"
    synthetic_targets(few, args.targets)
    synthetic_targets(many, 100)
    common = {"chunk_size": args.chunk_size, "device": "cpu"}
    local = {"relevance": False}
    plan: list[tuple[str, Path, Path, dict[str, Any]]] = [
        (f"local 1 worker, {args.targets} targets, no filter", archive, few, {**local, "workers": 1}),
        (f"local 2 workers, {args.targets} targets, no filter", archive, few, {**local, "workers": 2}),
        (
            f"ray 2 actors, {args.targets} targets, no filter",
            archive,
            few,
            {**local, "engine": "ray", "actors": 2},
        ),
        ("local 1 worker, 100 targets, no filter", small, many, {"relevance": False}),
        ("local 1 worker, 100 targets, pre-filter", small, many, {"relevance": True}),
    ]
    try:
        # one untimed run first: the first load of torch kernels and model files in a process is slow,
        # and would otherwise count against whichever run comes first
        warm = work / "warm.jsonl"
        synthetic_archive(warm, 1, seed=1)
        score_archive(
            args.model, warm, few, work / "warm", ScoreOptions(progress=False, relevance=False, **common)
        )
        for label, source, targets, opts in plan:
            if any(s in label for s in args.skip):
                continue
            if "ray" in label:
                from stancewire.serve.ray_engine import ray_available

                if not ray_available():
                    print(json.dumps({"run": label, "skipped": "ray is not installed"}))
                    continue
                import ray

                # started outside the timed run: cluster start-up is not scoring throughput
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            run(label, args.model, source, targets, work, **common, **opts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
