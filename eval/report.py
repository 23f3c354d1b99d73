"""``stancewire eval --report DIR``: a self-contained HTML report with PNG plots, and ``report.json``.

``index.html`` is plain HTML with inline CSS; the plots are sibling PNG files; no JavaScript and
nothing fetched from elsewhere, so the folder can be zipped, mailed or served as it is.
matplotlib (the ``train`` extra) is imported only here, and only its Agg canvas is used: no
display, no global pyplot state.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stancewire.eval.run import Evaluation, comparison_rows, format_ci, report_json
from stancewire.model.errors import StancewireError
from stancewire.model.labels import LABELS
from stancewire.training.data import Example

PLOTS = {
    "confusion": "confusion.png",
    "reliability": "reliability.png",
    "per_class_f1": "per_class_f1.png",
    "coverage": "coverage.png",
}
N_WORST = 25


def worst_errors(examples: Sequence[Example], probs: np.ndarray, n: int = N_WORST) -> list[dict[str, Any]]:
    """The ``n`` wrong predictions made with the highest confidence, most confident first."""
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    wrong = [i for i, e in enumerate(examples) if LABELS[predicted[i]] != e.label]
    wrong.sort(key=lambda i: -confidence[i])
    return [
        {
            "id": examples[i].id,
            "statement": examples[i].statement,
            "speaker": examples[i].speaker,
            "target": examples[i].target,
            "gold": examples[i].label,
            "predicted": LABELS[predicted[i]],
            "confidence": float(confidence[i]),
            "probs": {label: float(probs[i, k]) for k, label in enumerate(LABELS)},
        }
        for i in wrong[:n]
    ]


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas (never pyplot: no display, no shared state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise StancewireError(
            "--report needs matplotlib; install the train extra: pip install -e '.[train]'"
        ) from exc
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_confusion(report: dict[str, Any], path: Path) -> None:
    """Row-normalised confusion heatmap with the counts written in each cell."""
    counts = np.array(report["confusion"]["matrix"], dtype=np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig = _figure(5.6, 4.8)
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=30, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Confusion (share of each gold row; counts in cells)")
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            color = "white" if shares[i, j] > 0.55 else "black"
            text = f"{int(counts[i, j])}\n{shares[i, j]:.0%}"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of gold row")
    fig.savefig(path)


def plot_reliability(report: dict[str, Any], path: Path) -> None:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with bin counts."""
    bins = report["reliability"]
    fig = _figure(5.6, 4.6)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    full = [b for b in bins if b["count"]]
    ax.bar(
        [(b["lo"] + b["hi"]) / 2 for b in full],
        [b["accuracy"] for b in full],
        width=[0.95 * (b["hi"] - b["lo"]) for b in full],
        color="#9ebfe3",
        edgecolor="#2f5d8a",
        linewidth=0.5,
        label="accuracy in bin",
    )
    ax.scatter(
        [b["confidence"] for b in full],
        [b["confidence"] for b in full],
        color="#c44e52",
        zorder=3,
        s=16,
        label="mean confidence",
    )
    for b in full:
        # counts sit at the foot of each bar, clear of the bar tops, the dots and the diagonal
        ax.text(
            (b["lo"] + b["hi"]) / 2,
            0.02,
            f"n={b['count']}",
            ha="center",
            va="bottom",
            fontsize=7,
            rotation=90,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (ECE {report['ece']:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(path)


def _f1_with_error(row: dict[str, Any]) -> tuple[list[float], list[list[float]]]:
    """Per-class F1 and the (below, above) error-bar lengths of its 95% interval (0 where unknown)."""
    f1 = [row["per_class"][x]["f1"] for x in LABELS]
    intervals = (row.get("ci95") or {}).get("per_class_f1") or {}
    below, above = [], []
    for value, label in zip(f1, LABELS, strict=True):
        lo, hi = intervals.get(label, [value, value])
        ok = not (np.isnan(lo) or np.isnan(hi))
        below.append(max(value - lo, 0.0) if ok else 0.0)
        above.append(max(hi - value, 0.0) if ok else 0.0)
    return f1, [below, above]


def plot_per_class_f1(report: dict[str, Any], path: Path) -> None:
    """Per-class F1 with 95% bootstrap error bars; the model and each baseline side by side."""
    systems = comparison_rows(report)
    fig = _figure(7.2, 4.4)
    ax = fig.subplots()
    width = 0.8 / len(systems)
    x = np.arange(len(LABELS))
    for k, (name, row) in enumerate(systems):
        f1, yerr = _f1_with_error(row)
        ax.bar(x + (k - (len(systems) - 1) / 2) * width, f1, width, yerr=yerr, capsize=2, label=name)
    ax.set_xticks(x, LABELS)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1 (95% bootstrap CI)")
    ax.set_title("Per-class F1")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=min(len(systems), 4), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    fig.savefig(path)


def plot_coverage(report: dict[str, Any], path: Path) -> None:
    """Accuracy and macro-F1 of the kept predictions as low-confidence ones are abstained on."""
    curve = report["selective"]
    fig = _figure(5.6, 4.2)
    ax = fig.subplots()
    ax.plot(curve["coverage"], curve["accuracy"], marker="o", markersize=3, label="accuracy")
    ax.plot(curve["coverage"], curve["macro_f1"], marker="s", markersize=3, label="macro-F1")
    ax.set_xlim(1.02, 0)  # reads left to right as abstaining on more and more
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of rows answered)")
    ax.set_ylabel("score on the answered rows")
    ax.set_title("Abstaining below a confidence threshold")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.savefig(path)


def write_plots(report: dict[str, Any], out: Path) -> None:
    plot_confusion(report, out / PLOTS["confusion"])
    plot_reliability(report, out / PLOTS["reliability"])
    plot_per_class_f1(report, out / PLOTS["per_class_f1"])
    plot_coverage(report, out / PLOTS["coverage"])


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text { text-align: left; max-width: 28em; }
.small { color: #999; } .plots img { max-width: 48%; margin: 0.5em 1%; border: 1px solid #eee; }
.note { color: #555; font-size: 0.9em; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _num(text: str) -> str:
    return f"<td>{text}</td>"


def _txt(value: object) -> str:
    return f"<td class='text'>{_e(value)}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], row_class: Sequence[str] = ()) -> str:
    """An HTML table of rendered ``<td>`` cells (``_num``, ``_txt``); header cells are escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    classes = [*row_class, *[""] * (len(rows) - len(row_class))]
    body = "".join(
        f"<tr class='{c}'>" + "".join(cells) + "</tr>" for c, cells in zip(classes, rows, strict=True)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary(report: dict[str, Any]) -> str:
    ci = format_ci(report.get("ci95", {}).get("macro_f1"))
    rows = [
        ("rows", str(report["n"])),
        ("data", ", ".join(report.get("data", []))),
        ("split", report.get("split", "all")),
        ("model version", report.get("model_version")),
        ("macro-F1 (95% CI)", f"{report['macro_f1']:.3f} ({ci})"),
        ("accuracy", f"{report['accuracy']:.3f}"),
        ("ECE", f"{report['ece']:.3f}"),
    ]
    if report.get("samples_per_second"):
        rows.append(("pairs scored per second", f"{report['samples_per_second']:.1f}"))
    return _table(["", ""], [[_txt(k), _txt(v)] for k, v in rows])


def _per_class(report: dict[str, Any]) -> str:
    intervals = report.get("ci95", {}).get("per_class_f1", {})
    rows = []
    for label in LABELS:
        r = report["per_class"][label]
        ci = intervals.get(label)
        rows.append(
            [
                _txt(label),
                _num(f"{r['precision']:.3f}"),
                _num(f"{r['recall']:.3f}"),
                _num(f"{r['f1']:.3f}"),
                _num(format_ci(ci) if ci and not np.isnan(ci).any() else "-"),
                _num(str(r["support"])),
            ]
        )
    return _table(["label", "precision", "recall", "F1", "F1 95% CI", "support"], rows)


def _slices(report: dict[str, Any]) -> str:
    parts = []
    for column, values in (report.get("slices") or {}).items():
        rows, classes = [], []
        for value, r in values.items():
            flag = " (small)" if r["small"] else ""
            rows.append(
                [
                    _txt(value + flag),
                    _num(str(r["n"])),
                    _num(f"{r['macro_f1']:.3f}"),
                    _num(f"{r['accuracy']:.3f}"),
                ]
            )
            classes.append("small" if r["small"] else "")
        parts.append(
            f"<h3>by {_e(column)}</h3>" + _table([column, "n", "macro-F1", "accuracy"], rows, classes)
        )
    if not parts:
        return "<p class='note'>No metadata column to slice by in these rows.</p>"
    return (
        "<p class='note'>Slices under 20 rows are greyed: their F1 moves a lot with one row.</p>"
        + "".join(parts)
    )


def _baselines(report: dict[str, Any]) -> str:
    if not report.get("baselines"):
        return "<p class='note'>No baselines in this run (add <code>--baselines</code>).</p>"
    rows = []
    for name, r in comparison_rows(report):
        ci = format_ci(r.get("ci95", {}).get("macro_f1"))
        rows.append(
            [_txt(name), _num(f"{r['macro_f1']:.3f} ({ci})"), _num(f"{r['accuracy']:.3f}")]
            + [_num(f"{r['per_class'][x]['f1']:.3f}") for x in LABELS]
        )
    notes = "".join(
        f"<li>{_e(n)}: fitted on {_e(r['fitted_on'])}</li>" for n, r in report["baselines"].items()
    )
    header = ["system", "macro-F1 (95% CI)", "accuracy", *(f"F1 {x}" for x in LABELS)]
    return _table(header, rows) + f"<ul class='note'>{notes}</ul>"


def _errors(errors: Sequence[dict[str, Any]]) -> str:
    if not errors:
        return "<p class='note'>No wrong predictions.</p>"
    rows = [
        [
            _num(f"{e['confidence']:.3f}"),
            _txt(e["statement"]),
            _txt(e["speaker"]),
            _txt(e["target"]),
            _txt(e["gold"]),
            _txt(e["predicted"]),
            *(_num(f"{e['probs'][x]:.3f}") for x in LABELS),
        ]
        for e in errors
    ]
    return _table(["confidence", "statement", "speaker", "target", "gold", "predicted", *LABELS], rows)


def render_html(report: dict[str, Any], errors: Sequence[dict[str, Any]]) -> str:
    plots = "".join(f"<img src='{name}' alt='{_e(key)}'>" for key, name in PLOTS.items())
    title = f"stancewire evaluation: {_e(report.get('model_version'))}"
    sections = [
        f"<h1>{title}</h1>",
        _summary(report),
        "<h2>Per class</h2>",
        _per_class(report),
        "<h2>Plots</h2>",
        f"<div class='plots'>{plots}</div>",
        "<h2>Slices</h2>",
        _slices(report),
        "<h2>Model vs baselines</h2>",
        _baselines(report),
        f"<h2>The {len(errors)} most confident errors</h2>",
        _errors(errors),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def write_report(out_dir: str | Path, evaluation: Evaluation, n_errors: int = N_WORST) -> Path:
    """Write ``index.html``, the four PNG plots and ``report.json`` into ``out_dir``; return its index."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StancewireError(f"--report {out}: cannot create the folder ({exc.strerror})") from exc
    report = evaluation.report
    errors = worst_errors(evaluation.examples, evaluation.probs, n_errors)
    write_plots(report, out)
    payload = {**report, "worst_errors": errors, "plots": PLOTS}
    (out / "report.json").write_text(report_json(payload, indent=2), encoding="utf-8")
    index = out / "index.html"
    index.write_text(render_html(report, errors), encoding="utf-8")
    return index
