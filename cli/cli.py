"""The ``stancewire`` command: a thin table over importable functions.

Each sub-command parses its flags and calls one function of ``model/``, ``training/``, ``eval/``
or ``serve/``; user errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stancewire import __version__
from stancewire.model.errors import StancewireError

DEFAULT_MODEL = "models/default"
DEFAULT_REGISTRY = "models/registry"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_train(args: argparse.Namespace) -> int:
    from stancewire.training.config import TrainConfig
    from stancewire.training.finetune import train

    overrides = {
        "data": tuple(args.data) if args.data else None,
        "extra_sources": tuple(args.extra) if args.extra else None,
        "out": args.out,
        "base": args.base,
        "epochs": args.epochs,
        "seed": args.seed,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "input_format": args.input_format,
        "max_steps": args.max_steps,
        "bf16": args.bf16,
        "device": args.device,
        "grad_accum_steps": args.grad_accum_steps,
        "mixed_precision": args.mixed_precision,
        "early_stopping_patience": args.early_stopping_patience,
        "eval_steps": args.eval_steps,
        "class_weighting": args.class_weighting,
        "registry": args.registry,
        "replay_data": tuple(args.replay_data) if args.replay_data else None,
        "replay_rows": args.replay_rows,
        "replay_fraction": args.replay_fraction,
        "eval_data": tuple(args.eval_data) if args.eval_data else None,
        "eval_split": args.eval_split,
        "max_macro_f1_drop": args.max_macro_f1_drop,
        "max_class_f1_drop": args.max_class_f1_drop,
    }
    if args.config:
        cfg = TrainConfig.from_yaml(args.config, **overrides)
    else:
        cfg = TrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    if args.out and cfg.registry:
        raise StancewireError("give --out DIR (a plain model directory) or --registry DIR, not both")
    if args.force and not cfg.registry:
        raise StancewireError("--force overrides the promotion gate of --registry; give --registry DIR")
    if cfg.base == "current" and not cfg.registry:
        raise StancewireError("--base current names a registry version; give --registry DIR too")
    if cfg.registry:
        from stancewire.training.retrain import train_version

        result = train_version(cfg, progress=not args.quiet, force=args.force)
        if result.version:  # empty on the non-main processes of `accelerate launch` / `torchrun`
            _out(result.summary())
        return 0
    out = train(cfg, progress=not args.quiet)
    if os.environ.get("RANK", "0") != "0":
        return 0  # under accelerate launch / torchrun only rank 0 saves and reports
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics.get("test") or metrics.get("dev")
    summary = f"saved {out}"
    if test:
        summary += f"  held-out macro-F1 {test['macro_f1']:.3f} (n={test['n']})"
    _out(summary + f"  training {metrics['train_seconds']:.0f}s")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if bool(args.data) == bool(args.articles):
        raise StancewireError("give labeled pairs with --data FILE or annotated articles with --articles DIR")
    if args.articles:
        pairs_only = [f for f in ("slice_by", "baselines", "baseline_train", "report") if getattr(args, f)]
        if pairs_only:
            flags = ", ".join("--" + f.replace("_", "-") for f in pairs_only)
            raise StancewireError(f"{flags} work with --data only, not with --articles")
        return eval_articles(args)
    from stancewire.eval.run import format_report, report_json, run_evaluation

    evaluation = run_evaluation(
        args.model,
        args.data,
        split=args.split,
        device=args.device,
        batch_size=args.batch_size,
        progress=sys.stderr.isatty(),
        slice_by=args.slice_by,
        baselines=args.baselines,
        baseline_train=args.baseline_train,
        warn=lambda line: sys.stderr.write(line + "\n"),
    )
    if args.report:
        from stancewire.eval.report import write_report

        index = write_report(args.report, evaluation)
        sys.stderr.write(f"report written to {index}\n")
    report = evaluation.report
    _out(report_json(report) if args.json else format_report(report))
    return 0


def eval_articles(args: argparse.Namespace) -> int:
    from stancewire.eval.articles import evaluate_articles, format_articles_report, load_articles
    from stancewire.model.engine import StanceEngine

    engine = StanceEngine.load(args.model, device=args.device)
    report = evaluate_articles(load_articles(args.articles), engine)
    _out(json.dumps(report, ensure_ascii=False) if args.json else format_articles_report(report))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from stancewire.eval.compare import compare_models, format_comparison
    from stancewire.eval.run import report_json

    if len(args.model) != 2:
        raise StancewireError(f"give exactly two models, --model A --model B; found {len(args.model)}")
    result = compare_models(
        args.model[0],
        args.model[1],
        args.data,
        split=args.split,
        device=args.device,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    _out(report_json(result) if args.json else format_comparison(result))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from stancewire.model import QuoteExtractor, StanceEngine, StancePipeline
    from stancewire.serve.schemas import stance_response

    if (args.text is None) == (args.file is None):
        raise StancewireError("give exactly one of --text TEXT or --file PATH")
    text = args.text if args.text is not None else Path(args.file).read_text(encoding="utf-8")
    pipeline = StancePipeline(QuoteExtractor(), StanceEngine.load(args.model, device=args.device))
    results = pipeline.analyze(text, args.target, abstain_below=args.abstain_below)
    response = stance_response(results, args.target, pipeline.engine.version)
    if args.json:
        _out(response.model_dump_json(indent=2))
        return 0
    for st in response.statements:
        _out(f"[{st.kind}] {st.speaker or '?'} ({st.cue or '-'}): {st.text}")
        for stance in st.stances:
            flag = " (uncertain)" if stance.abstained else ""
            _out(f"    {stance.label:<9} {stance.confidence:.2f}{flag}  {stance.target}")
    if not response.statements:
        _out("no quoted or reported statements found")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from stancewire.model.relevance import DEFAULT_THRESHOLD
    from stancewire.serve.archive_input import Columns
    from stancewire.serve.batch import ScoreOptions, score_archive

    opts = ScoreOptions(
        output_format=args.format,
        partition=args.partition,
        input_format=args.input_format,
        columns=Columns(args.id_col, args.text_col, args.date_col, args.source_col),
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        device=args.device,
        backend=args.backend,
        abstain_below=args.abstain_below,
        max_chars=args.max_chars,
        relevance=not args.no_prefilter,
        relevance_threshold=DEFAULT_THRESHOLD
        if args.prefilter_threshold is None
        else args.prefilter_threshold,
        relevance_encoder=args.prefilter_encoder,
        engine=args.engine,
        workers=args.workers,
        actors=args.actors,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    summary = score_archive(args.model, args.input, args.targets, args.output, opts)
    _out(json.dumps(summary))
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from stancewire.model.registry import ModelRegistry

    registry = ModelRegistry(args.registry)
    rows = registry.summaries()
    if args.json:
        _out(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    _out(f"{'':2}{'version':<30}{'created':<27}{'parent':<30}{'eval F1':>8}  gate")
    for r in rows:
        f1 = f"{r.eval_macro_f1:.3f}" if r.eval_macro_f1 is not None else "-"
        gate = {True: "passed", False: "failed", None: "-"}[r.promoted]
        mark = "*" if r.is_current else " "
        _out(f"{mark:2}{r.version:<30}{r.created_at:<27}{r.parent or '-':<30}{f1:>8}  {gate}")
    if not rows:
        _out(f"no versions yet; add one with `stancewire models add MODEL_DIR --registry {args.registry}`")
    stale = registry.stale_staging()
    if stale:
        where = registry.root / ".staging"
        _out(f"({len(stale)} interrupted save(s) in {where}; safe to delete when nothing trains)")
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    from stancewire.model.registry import ModelRegistry, RegistryError

    registry = ModelRegistry(args.registry)
    version = registry.current() if args.version == "current" else args.version
    if version is None:
        raise RegistryError(f"registry {args.registry} has no current version")
    record = registry.record(version)
    record["is_current"] = version == registry.current()
    _out(json.dumps(record, indent=2, ensure_ascii=False))
    return 0


def cmd_models_add(args: argparse.Namespace) -> int:
    from stancewire.model.registry import ModelRegistry

    registry = ModelRegistry.create(args.registry)
    version = registry.add(args.model_dir)
    _out(f"added {args.model_dir} as version {version}")
    if args.promote:
        registry.promote(version, reason=f"added from {args.model_dir}")
        _out(f"current is now {version}")
    return 0


def cmd_models_promote(args: argparse.Namespace) -> int:
    from stancewire.model.registry import ModelRegistry

    registry = ModelRegistry(args.registry)
    entry = registry.promote(args.version, reason=args.reason or "manual promotion")
    _out(f"current is now {entry['version']} (was {entry['previous'] or 'none'})")
    return 0


def cmd_models_rollback(args: argparse.Namespace) -> int:
    from stancewire.model.registry import ModelRegistry

    entry = ModelRegistry(args.registry).rollback(reason=args.reason)
    _out(f"rolled back: current is now {entry['version']} (was {entry['previous']})")
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from stancewire.serve.summarize import format_summary, summarize

    report = summarize(args.output, plots_dir=args.plots, top=args.top)
    _out(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_summary(report))
    return 0


def serve_settings(args: argparse.Namespace) -> Any:
    """Settings from STANCEWIRE_* variables, with --model/--device winning only when given."""
    from stancewire.serve.settings import Settings

    given = {"model_dir": args.model, "device": args.device}
    return Settings(**{k: v for k, v in given.items() if v is not None})


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from stancewire.serve.app import create_app
    from stancewire.serve.logs import log_config

    settings = serve_settings(args)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.keys():
        logging.getLogger("stancewire").warning(
            "serving on %s without API keys: anyone who can reach this address can use the API; "
            "set STANCEWIRE_API_KEYS or STANCEWIRE_API_KEYS_FILE",
            args.host,
        )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=log_config(settings.log_format),
        access_log=False,  # the app logs each request itself (stancewire.access), with its request id
    )
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from stancewire.training.check import check_files, format_check

    report = check_files(args.files)
    _out(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_check(report))
    return 0 if report["ok"] else 1


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from stancewire.serve.feedback import FeedbackStore, export_rows
    from stancewire.serve.settings import Settings
    from stancewire.training.check import check_examples
    from stancewire.training.data import load_examples

    # the same default as the server's, so `make serve` + `feedback export` need no flags
    url = args.db or Settings().feedback_db_url
    store = FeedbackStore(url)
    try:
        export = export_rows(store.corrections())
    finally:
        store.close()
    if not export.rows:
        raise StancewireError(f"{url} holds no feedback yet; nothing written to {args.out}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in export.rows), encoding="utf-8")
    # read the file back through the training loader, so what we wrote is what training will accept
    report = check_examples(load_examples([out]))
    _out(f"wrote {len(export.rows)} rows to {out} from {export.stored} corrections")
    for line in export.conflicts:
        _out(f"conflict: {line}")
    for line in report["errors"]:
        _out(f"error: {line}")
    for line in report["warnings"]:
        _out(f"warning: {line}")
    return 0 if report["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    from stancewire.training.sources import SOURCES

    parser = argparse.ArgumentParser(prog="stancewire", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"stancewire {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune a model on labeled pairs")
    p.add_argument("--data", action="append", help="labeled JSONL/CSV file or directory (repeatable)")
    p.add_argument(
        "--extra",
        action="append",
        metavar="NAME:PATH",
        help="public dataset added to the train split (repeatable); NAME is one of "
        + ", ".join(n for n, src in SOURCES.items() if src.train),
    )
    p.add_argument("--out", default=None, help=f"model directory to write (default {DEFAULT_MODEL})")
    p.add_argument("--base", default=None, help="start from this model directory (default: all-MiniLM-L6-v2)")
    p.add_argument("--config", default=None, help="YAML file of training settings (flags override it)")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--input-format", default=None)
    p.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke tests)")
    p.add_argument("--bf16", action="store_true", default=None, help="train under bf16 autocast")
    p.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    p.add_argument("--grad-accum-steps", type=int, default=None, help="batches per optimiser step")
    p.add_argument("--mixed-precision", default=None, choices=["no", "auto", "bf16", "fp16"])
    p.add_argument(
        "--early-stopping-patience", type=int, default=None, help="stop after N dev evaluations without gain"
    )
    p.add_argument("--eval-steps", type=int, default=None, help="dev evaluation every N steps (0: per epoch)")
    p.add_argument("--class-weighting", default=None, choices=["none", "balanced"])
    p.add_argument(
        "--registry",
        default=None,
        help=f"save a new version into this model registry (e.g. {DEFAULT_REGISTRY}) instead of --out; "
        "with --base current it continues from the current version and is promoted only past the gate",
    )
    p.add_argument(
        "--replay-data", action="append", help="earlier data to replay (default: the parent version's data)"
    )
    p.add_argument("--replay-rows", type=int, default=None, help="replayed rows of the earlier train split")
    p.add_argument("--replay-fraction", type=float, default=None, help="replay this share instead of rows")
    p.add_argument("--eval-data", action="append", help="fixed evaluation set of the gate (repeatable)")
    p.add_argument("--eval-split", default=None, choices=["train", "dev", "test", "all"])
    p.add_argument("--max-macro-f1-drop", type=float, default=None, help="gate tolerance for macro-F1")
    p.add_argument("--max-class-f1-drop", type=float, default=None, help="gate tolerance for each class's F1")
    p.add_argument("--force", action="store_true", help="promote even if the gate fails (logged)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="metrics of a model on labeled data")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--data", action="append", help="labeled file or directory (repeatable)")
    p.add_argument(
        "--articles",
        action="append",
        help="annotated article JSON file or directory: end-to-end extraction, speaker and stance scores",
    )
    p.add_argument(
        "--split", choices=["train", "dev", "test"], default=None, help="only this split of the data"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument(
        "--slice-by",
        action="append",
        metavar="COL",
        help="also report macro-F1/accuracy per value of this row field, e.g. source, kind, style, topic, "
        "speaker (presence); repeatable; default: source and kind when present",
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="score majority, TF-IDF + logistic regression (fitted on the model's train split, read from "
        "its train_config.json) and a cue lexicon beside the model",
    )
    p.add_argument(
        "--baseline-train",
        action="append",
        metavar="FILE",
        help="fit the TF-IDF baseline on the train split of this labeled file instead (repeatable; "
        "implies --baselines)",
    )
    p.add_argument("--report", metavar="DIR", help="write an HTML report with plots and report.json here")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="two models on the same labeled rows, with a paired bootstrap")
    p.add_argument("--model", action="append", required=True, help="model directory; give A, then B")
    p.add_argument("--data", action="append", required=True, help="labeled file or directory (repeatable)")
    p.add_argument(
        "--split", choices=["train", "dev", "test"], default=None, help="only this split of the data"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("predict", help="statements, speakers and stances of one text")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--text", default=None)
    p.add_argument("--file", default=None)
    p.add_argument("--target", action="append", required=True, help="target proposition (repeatable)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--abstain-below", type=float, default=0.0, help="mark predictions below this confidence")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("score", help="score a news archive against a target file (resumable)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument(
        "--input", required=True, help="JSONL (.gz), CSV, Parquet, or a directory of .txt files of articles"
    )
    p.add_argument("--input-format", default=None, choices=["jsonl", "csv", "parquet", "txt"])
    p.add_argument("--id-col", default="id", help="field holding the article id (default id)")
    p.add_argument("--text-col", default="text", help="field holding the article text (default text)")
    p.add_argument("--date-col", default="date", help="field holding the publication date (default date)")
    p.add_argument("--source-col", default="source", help="field holding the outlet (default source)")
    p.add_argument(
        "--targets", required=True, help="text file (one per line), or JSONL/YAML with id, proposition"
    )
    p.add_argument("--output", required=True, help="output directory (created; re-run to resume)")
    p.add_argument("--format", default="parquet", choices=["parquet", "jsonl"], help="part file format")
    p.add_argument("--partition", default="none", choices=["none", "month"], help="part files by date month")
    p.add_argument("--engine", default="local", choices=["local", "ray"])
    p.add_argument("--workers", type=int, default=1, help="local engine: quote-extraction processes")
    p.add_argument("--actors", type=int, default=2, help="ray engine: model actors")
    p.add_argument("--chunk-size", type=int, default=64, help="records per chunk (unit of resume)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-chars", type=int, default=200_000, help="reject longer texts")
    p.add_argument("--no-prefilter", action="store_true", help="score every statement x target pair")
    p.add_argument("--prefilter-threshold", type=float, default=None, help="bi-encoder cosine to keep a pair")
    p.add_argument(
        "--prefilter-encoder", default=None, help="bi-encoder directory (default all-MiniLM-L6-v2)"
    )
    p.add_argument("--overwrite", action="store_true", help="delete rows of a different earlier run first")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--backend", default="torch", choices=["torch", "onnx"], help="onnx: ONNX Runtime on the CPU"
    )
    p.add_argument(
        "--abstain-below", type=float, default=0.0, help="mark rows below this confidence as abstained"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("summarize", help="counts, top statements and plots of a score output (DuckDB)")
    p.add_argument("output", help="output directory of stancewire score (Parquet)")
    p.add_argument("--plots", default=None, help="write PNG plots of stance over time per target here")
    p.add_argument("--top", type=int, default=3, help="most confident statements per cell")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument(
        "--model", default=None, help=f"model directory (default: $STANCEWIRE_MODEL_DIR or {DEFAULT_MODEL})"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--device", default=None, choices=["auto", "cpu", "cuda"], help="default: $STANCEWIRE_DEVICE or auto"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("data", help="labeled-data tools")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    q = data_sub.add_parser("check", help="schema, labels, duplicates and split leaks of labeled files")
    q.add_argument("files", nargs="+")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_data_check)

    p = sub.add_parser("feedback", help="corrections sent with POST /v1/feedback (the page's buttons)")
    fb_sub = p.add_subparsers(dest="feedback_command", required=True)
    q = fb_sub.add_parser("export", help="write the corrections as labeled training rows (JSONL)")
    q.add_argument(
        "--db",
        default=None,
        help="database URL (default: $STANCEWIRE_FEEDBACK_DB_URL or sqlite:///feedback.sqlite3)",
    )
    q.add_argument("--out", required=True, help="JSONL file to write")
    q.set_defaults(func=cmd_feedback_export)
    p = sub.add_parser("models", help="the model registry: list, show, add, promote, roll back versions")
    models_sub = p.add_subparsers(dest="models_command", required=True)
    registry_help = f"registry directory (default {DEFAULT_REGISTRY})"
    q = models_sub.add_parser("list", help="every version; * marks current")
    q.add_argument("--registry", default=DEFAULT_REGISTRY, help=registry_help)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_models_list)
    q = models_sub.add_parser("show", help="the record of one version (or 'current')")
    q.add_argument("version")
    q.add_argument("--registry", default=DEFAULT_REGISTRY, help=registry_help)
    q.set_defaults(func=cmd_models_show)
    q = models_sub.add_parser("add", help="copy a model directory into the registry as a new version")
    q.add_argument("model_dir")
    q.add_argument("--registry", default=DEFAULT_REGISTRY, help=registry_help)
    q.add_argument("--promote", action="store_true", help="make it current")
    q.set_defaults(func=cmd_models_add)
    q = models_sub.add_parser("promote", help="make a version current (atomic; logged)")
    q.add_argument("version")
    q.add_argument("--registry", default=DEFAULT_REGISTRY, help=registry_help)
    q.add_argument("--reason", default="", help="recorded in history.jsonl")
    q.set_defaults(func=cmd_models_promote)
    q = models_sub.add_parser("rollback", help="make the previous current version current again")
    q.add_argument("--registry", default=DEFAULT_REGISTRY, help=registry_help)
    q.add_argument("--reason", default="", help="recorded in history.jsonl")
    q.set_defaults(func=cmd_models_rollback)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "eval": cmd_eval,
    "compare": cmd_compare,
    "predict": cmd_predict,
    "score": cmd_score,
    "summarize": cmd_summarize,
    "serve": cmd_serve,
    "data check": cmd_data_check,
    "feedback export": cmd_feedback_export,
    "models list": cmd_models_list,
    "models show": cmd_models_show,
    "models add": cmd_models_add,
    "models promote": cmd_models_promote,
    "models rollback": cmd_models_rollback,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        result: Any = args.func(args)
        return int(result)
    except StancewireError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
