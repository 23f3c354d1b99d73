"""``stancewire summarize``: what an analyst looks at first, computed by DuckDB over a score output.

Counts by speaker x target x stance x month, the most confident statements of each speaker x target x
stance cell, and one PNG per target of stance over time. DuckDB scans the part files in place, so
outputs far larger than memory summarise the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stancewire.model.errors import DataError
from stancewire.serve.archive_output import MANIFEST

STANCES = ("deny", "confirm", "condemn", "threaten")
COLORS = {"deny": "#d62728", "confirm": "#2ca02c", "condemn": "#9467bd", "threaten": "#ff7f0e"}


def _source(root: Path) -> str:
    """The DuckDB table expression reading every part file under ``root``."""
    base = root.as_posix().replace("'", "''")  # a quote in the path must not end the SQL string
    if any(root.rglob("part-*.parquet")):
        return f"read_parquet('{base}/**/part-*.parquet', hive_partitioning = false)"
    if any(root.rglob("part-*.jsonl")):
        return f"read_json_auto('{base}/**/part-*.jsonl')"
    raise DataError(f"{root}: no part files found; run `stancewire score --output {root}` first")


def _query(con: Any, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def summarize(output: str | Path, plots_dir: str | Path | None = None, top: int = 3) -> dict[str, Any]:
    """Counts, top statements and (with ``plots_dir``) PNG plots of a ``stancewire score`` output.

    Example:
        >>> report = summarize("out/", plots_dir="out/plots")  # doctest: +SKIP
        >>> report["counts"][0]  # doctest: +SKIP
        {'speaker': 'the ministry', 'target_id': 'nk-arms', 'label': 'deny', 'month': '2024-03', 'n': 4}
    """
    try:
        import duckdb
    except ImportError as exc:
        raise DataError("summarize needs duckdb: pip install -c constraints.txt -e '.[archive]'") from exc

    root = Path(output)
    if not (root / MANIFEST).is_file():
        raise DataError(f"{root}: not a stancewire score output (no {MANIFEST})")
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW rows AS SELECT *, coalesce(speaker, '(unknown)') AS who, "
        f"coalesce(substr(CAST(date AS VARCHAR), 1, 7), 'unknown') AS month FROM {_source(root)}"
    )
    totals = _query(con, "SELECT count(*) AS rows, count(DISTINCT article_id) AS articles FROM rows")[0]
    counts = _query(
        con,
        "SELECT who AS speaker, target_id, label, month, count(*) AS n FROM rows "
        "GROUP BY ALL ORDER BY target_id, month, n DESC, speaker, label",
    )
    top_rows = _query(
        con,
        "SELECT who AS speaker, target_id, label, round(confidence, 3) AS confidence, article_id, date, "
        "statement FROM rows WHERE label <> 'none' "
        f"QUALIFY row_number() OVER (PARTITION BY who, target_id, label "
        f"ORDER BY confidence DESC, article_id, start) <= {int(top)} "
        "ORDER BY target_id, speaker, label, confidence DESC",
    )
    report: dict[str, Any] = {"output": str(root), **totals, "counts": counts, "top": top_rows}
    if plots_dir is not None:
        report["plots"] = plot_over_time(con, Path(plots_dir))
    return report


def plot_over_time(con: Any, plots_dir: Path) -> list[str]:
    """One PNG per target: statements per month, stacked by stance (``none`` left out)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    series = _query(
        con,
        "SELECT target_id, any_value(target) AS target, month, label, count(*) AS n FROM rows "
        "WHERE label <> 'none' GROUP BY target_id, month, label ORDER BY target_id, month",
    )
    months = [r["month"] for r in _query(con, "SELECT DISTINCT month FROM rows ORDER BY month")]
    written = []
    for target_id in sorted({r["target_id"] for r in series}):
        mine = [r for r in series if r["target_id"] == target_id]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        # stacked bars: lines of equal counts hide each other, stacks never do
        bottom = [0] * len(months)
        for label in STANCES:
            by_month = {r["month"]: r["n"] for r in mine if r["label"] == label}
            if by_month:
                heights = [by_month.get(m, 0) for m in months]
                ax.bar(months, heights, bottom=bottom, label=label, color=COLORS[label])
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(_wrap(f"{target_id}: {mine[0]['target']}"), fontsize=9)
        ax.set_xlabel("month")
        ax.set_ylabel("statements")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = plots_dir / f"stance_{re.sub(r'[^A-Za-z0-9_.-]', '_', target_id)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    return written


def _wrap(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_summary(report: dict[str, Any], max_lines: int = 40) -> str:
    """The report as plain-text tables for the terminal."""
    lines = [f"{report['rows']} rows from {report['articles']} articles in {report['output']}", ""]
    # the terminal shows the stances; the far more numerous `none` cells are in --json
    cells = [r for r in report["counts"] if r["label"] != "none"]
    lines.append(f"{'speaker':<28} {'target':<14} {'stance':<9} {'month':<8} {'n':>5}   (none left out)")
    for r in cells[:max_lines]:
        lines.append(
            f"{r['speaker'][:28]:<28} {r['target_id'][:14]:<14} {r['label']:<9} {r['month']:<8} {r['n']:>5}"
        )
    if len(cells) > max_lines:
        lines.append(f"... {len(cells) - max_lines} more cells (--json for all)")
    lines += ["", "most confident statements per speaker x target x stance:"]
    for r in report["top"][:max_lines]:
        lines.append(
            f"  {r['confidence']:.2f} {r['label']:<9} {r['target_id']:<12} "
            f"{r['speaker']}: {r['statement'][:90]}"
        )
    for path in report.get("plots", []):
        lines.append(f"plot: {path}")
    return "\n".join(lines)
