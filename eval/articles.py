"""End-to-end evaluation on annotated whole articles.

An article file holds ``text``, ``quotes`` ([{text, speaker, kind?, continuation?}]), ``targets`` and
``gold`` ([{quote_index, target_index, label}]). Extraction is scored by span overlap between each
gold quote and the extracted statements; speakers by a loose name match; stances on the statements
that were matched, through the same engine every other caller uses.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stancewire.eval.metrics import classification_report
from stancewire.model.engine import StanceEngine
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.types import Pair, Statement


def load_articles(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    return [json.loads(f.read_text(encoding="utf-8")) | {"_path": str(f)} for f in files]


KINDS = ("direct", "partial", "reported")
EDGE = " \t\n,.;:!?\"'“”„‘’«»"


# Quotation marks inside a span: the reopening mark of a multi-paragraph quote is part of the gold
# text (a substring of the article) but not of the extracted statement, whose parts are joined.
INNER_MARKS = re.compile(r"[“”„«»\"]|(?<!\w)[‘’']|[‘’'](?!\w)")


def _norm(text: str) -> str:
    return " ".join(INNER_MARKS.sub(" ", text.strip(EDGE)).split())


def _gold_text(quote: dict[str, Any]) -> str:
    """The gold statement's words: an interrupted or continued quote is its two parts joined."""
    return quote["text"] + (" " + quote["continuation"] if quote.get("continuation") else "")


def _span(text: str, quote: dict[str, Any]) -> tuple[int, int]:
    start = text.index(quote["text"])
    end = start + len(quote["text"])
    if quote.get("continuation"):
        end = text.index(quote["continuation"], end) + len(quote["continuation"])
    return start, end


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _same_speaker(gold: str, st: Statement) -> bool:
    gold_l = gold.lower()
    for name in (st.speaker, st.speaker_mention):
        if name and (name.lower() in gold_l or gold_l in name.lower()):
            return True
    return False


def match_statements(text: str, quotes: list[dict[str, Any]], found: list[Statement]) -> dict[int, int]:
    """Gold quote index -> extracted statement index, greedily by largest overlap (one-to-one)."""
    candidates = []
    for qi, q in enumerate(quotes):
        span = _span(text, q)
        for si, st in enumerate(found):
            ov = _overlap(span, (st.start, st.end))
            if ov > 0:
                candidates.append((ov, qi, si))
    matched: dict[int, int] = {}
    used: set[int] = set()
    for _, qi, si in sorted(candidates, reverse=True):
        if qi not in matched and si not in used:
            matched[qi] = si
            used.add(si)
    return matched


def evaluate_articles(
    articles: Sequence[dict[str, Any]],
    engine: StanceEngine | None = None,
    extractor: QuoteExtractor | None = None,
) -> dict[str, Any]:
    """Extraction precision/recall, speaker accuracy and (with an engine) stance metrics."""
    extractor = extractor or QuoteExtractor()
    n_gold = n_found = n_matched = n_speaker = n_exact = 0
    kinds = {k: {"gold": 0, "found": 0, "gold_matched": 0, "found_matched": 0} for k in KINDS}
    started = time.perf_counter()
    labels: list[str] = []
    pairs: list[Pair] = []
    missed_gold = 0
    for art in articles:
        text = art["text"]
        found = extractor.extract(text)
        matched = match_statements(text, art["quotes"], found)
        n_gold += len(art["quotes"])
        n_found += len(found)
        n_matched += len(matched)
        n_speaker += sum(_same_speaker(art["quotes"][qi]["speaker"], found[si]) for qi, si in matched.items())
        n_exact += sum(
            _norm(_gold_text(art["quotes"][qi])) == _norm(found[si].text) for qi, si in matched.items()
        )
        for qi, q in enumerate(art["quotes"]):
            if q.get("kind") in kinds:
                kinds[q["kind"]]["gold"] += 1
                kinds[q["kind"]]["gold_matched"] += qi in matched
        hits = set(matched.values())
        for si, st in enumerate(found):
            kinds[st.kind]["found"] += 1
            kinds[st.kind]["found_matched"] += si in hits
        for g in art.get("gold", []):
            si = matched.get(g["quote_index"])
            if si is None:
                missed_gold += 1
                continue
            st = found[si]
            labels.append(g["label"])
            pairs.append(st.pair(art["targets"][g["target_index"]]))
    report: dict[str, Any] = {
        "articles": len(articles),
        "gold_quotes": n_gold,
        "extracted": n_found,
        "extraction_precision": n_matched / n_found if n_found else 0.0,
        "extraction_recall": n_matched / n_gold if n_gold else 0.0,
        "speaker_accuracy": n_speaker / n_matched if n_matched else 0.0,
        # exact: the extracted text equals the gold text, up to surrounding marks and punctuation
        "exact_precision": n_exact / n_found if n_found else 0.0,
        "exact_recall": n_exact / n_gold if n_gold else 0.0,
        # per kind: recall by the gold kind, precision by the extracted kind (overlap match)
        "by_kind": {
            k: {
                "gold": c["gold"],
                "extracted": c["found"],
                "recall": c["gold_matched"] / c["gold"] if c["gold"] else 0.0,
                "precision": c["found_matched"] / c["found"] if c["found"] else 0.0,
            }
            for k, c in kinds.items()
        },
        "seconds_per_article": (time.perf_counter() - started) / len(articles) if articles else 0.0,
        "gold_pairs_on_missed_quotes": missed_gold,
    }
    if engine is not None and pairs:
        report["stance"] = classification_report(labels, engine.predict_proba(pairs), bootstrap=200)
    return report


def format_articles_report(report: dict[str, Any]) -> str:
    from stancewire.eval.run import format_report

    lines = [
        f"{report['articles']} articles, {report['gold_quotes']} gold statements,"
        f" {report['extracted']} extracted",
        f"extraction precision {report['extraction_precision']:.3f}  recall {report['extraction_recall']:.3f}"
        f"  speaker accuracy {report['speaker_accuracy']:.3f}",
        f"exact-text match: precision {report['exact_precision']:.3f}  recall {report['exact_recall']:.3f}",
        *(
            f"  {kind:<9} precision {c['precision']:.3f}  recall {c['recall']:.3f}"
            f"  ({c['extracted']} extracted, {c['gold']} gold)"
            for kind, c in report["by_kind"].items()
        ),
        f"{1000 * report['seconds_per_article']:.1f} ms per article (extraction only)",
        f"gold pairs lost with missed statements: {report['gold_pairs_on_missed_quotes']}",
    ]
    if "stance" in report:
        lines += ["", "stance on the extracted statements:", format_report(report["stance"])]
    return "\n".join(lines)
