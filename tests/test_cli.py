from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from stancewire.cli import COMMANDS, build_parser, main

from .conftest import SEED_ARTICLE


def test_cli_command_table_matches_parser() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = set()
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        names |= {f"{name} {n}" for n in nested[0].choices} if nested else {name}
    assert names == set(COMMANDS)


def test_cli_predict_json_has_the_contract_keys(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "predict",
            "--model",
            str(tiny_model_dir),
            "--file",
            str(SEED_ARTICLE),
            "--device",
            "cpu",
            "--target",
            "North Korea exported arms to Russia.",
            "--target",
            "Russia is buying weapons from North Korea.",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    st = out["statements"][0]
    assert {"text", "start", "end", "kind", "speaker", "cue", "stances"} <= set(st)
    assert {"label", "confidence", "probs", "target"} <= set(st["stances"][0])
    assert len(st["stances"]) == 2


def test_cli_predict_plain_text(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "predict",
                "--model",
                str(tiny_model_dir),
                "--text",
                "“No,” the minister said.",
                "--target",
                "X.",
            ]
        )
        == 0
    )
    assert "the minister" in capsys.readouterr().out


def test_cli_eval_json_keys(
    tiny_model_dir: Path, small_labeled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(small_labeled), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"macro_f1", "accuracy", "per_class", "confusion"} <= set(report)
    assert report["n"] == 40


def test_cli_user_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--model", str(tmp_path / "none"), "--text", "x", "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err and err.count("\n") == 1
    assert main(["predict", "--model", str(tmp_path), "--target", "y"]) == 2
    assert "exactly one of --text" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "m")]) == 2
    assert "missing.jsonl: no such file" in capsys.readouterr().err


def test_cli_score_writes_rows(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in.jsonl").write_text(
        json.dumps({"id": "1", "text": "“We did not do it,” the army said."}) + "\n"
    )
    (tmp_path / "t.txt").write_text("The army did it.\n")
    out = tmp_path / "out"
    args = ["score", "--model", str(tiny_model_dir), "--input", str(tmp_path / "in.jsonl"),
            "--targets", str(tmp_path / "t.txt"), "--output", str(out), "--format", "jsonl",
            "--no-prefilter", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 1
    (row,) = [json.loads(x) for x in (out / "part-000001.jsonl").read_text().splitlines()]
    assert row["abstained"] is False
    # another setting may not add rows to this output unless told to replace it
    assert main([*args, "--abstain-below", "0.99"]) == 2
    assert "abstain_below" in capsys.readouterr().err
    # a threshold above any 5-way confidence of the untrained tiny model marks the row
    assert main([*args, "--abstain-below", "0.99", "--overwrite"]) == 0
    (row,) = [json.loads(x) for x in (out / "part-000001.jsonl").read_text().splitlines()]
    assert row["abstained"] is True and row["label"] == max(
        ("deny", "confirm", "condemn", "threaten", "none"), key=lambda k: row[f"p_{k}"]
    )


def test_cli_data_check_exit_code(small_labeled: Path, tmp_path: Path) -> None:
    assert main(["data", "check", str(small_labeled)]) == 0
    (tmp_path / "bad.jsonl").write_text('{"statement": "s"}\n')
    assert main(["data", "check", str(tmp_path / "bad.jsonl")]) == 1


def test_cli_serve_settings_env_unless_flag_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from stancewire.cli import serve_settings

    monkeypatch.setenv("STANCEWIRE_MODEL_DIR", "/models/from-env")
    monkeypatch.setenv("STANCEWIRE_MAX_TARGETS", "7")
    settings = serve_settings(build_parser().parse_args(["serve"]))
    assert (
        settings.model_dir == "/models/from-env" and settings.max_targets == 7 and settings.device == "auto"
    )
    settings = serve_settings(build_parser().parse_args(["serve", "--model", "m", "--device", "cpu"]))
    assert settings.model_dir == "m" and settings.device == "cpu"
