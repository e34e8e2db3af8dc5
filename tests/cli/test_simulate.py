"""``hitloop simulate`` on tiny synthetic data: the report, its schema, the plot, and every bad input."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from hitloop.cli import cli
from hitloop.cli.simulate_report import SCHEMA_VERSION, SimulationReport, json_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"
POSITIVE = ["good", "great", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "dull", "poor"]
FILLER = ["the", "film", "plot", "was", "acting", "story"]


def _rows(n: int = 60) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        words = list(rng.choice(POSITIVE if i % 2 else NEGATIVE, 2)) + list(rng.choice(FILLER, 3))
        rows.append({"review": " ".join(rng.permutation(words)), "sentiment": "pos" if i % 2 else "neg"})
    return rows


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def simulate(*args: object, expect: int = 0) -> Result:
    argv = ["simulate", *[str(a) for a in args], "--quiet"]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    if expect:
        assert "Traceback" not in result.output
    return result


SMALL = ("--seed-labels", 4, "--batch", 8, "--budget", 20, "--repeats", 1)


def test_report_follows_the_documented_schema(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "reviews.jsonl", _rows())
    out = tmp_path / "report.json"
    result = simulate(
        "--data", data, "--text-field", "review", "--label-field", "sentiment",
        "--strategy", "margin", "--strategy", "random", *SMALL, "--json", out,
    )  # fmt: skip
    assert "margin: 0.95 × full-pool accuracy" in result.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    committed = json.loads((DOCS / "simulate-report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, committed)
    SimulationReport.model_validate(report)
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["data"]["classes"] == ["neg", "pos"] and report["data"]["items"] == 60
    assert report["data"]["class_counts"] == {"neg": 30, "pos": 30}
    assert [s["name"] for s in report["strategies"]] == ["margin", "random"]
    for run in report["strategies"]:
        assert run["labels"] == [4, 12, 20]
        assert len(run["accuracy"]) == 1 and len(run["accuracy"][0]) == 3
        assert 0.0 <= min(run["accuracy_mean"]) <= max(run["accuracy_mean"]) <= 1.0
        assert run["target_accuracy"] == pytest.approx(0.95 * run["reference_accuracy_mean"], abs=1e-5)
        reached = [
            n
            for n, acc in zip(run["labels"], run["accuracy_mean"], strict=True)
            if acc >= run["target_accuracy"]
        ]
        assert run["labels_to_target"] == (reached[0] if reached else None)
    # Same seed, same report (apart from timings and the time stamp).
    again = tmp_path / "again.json"
    simulate("--data", data, "--text-field", "review", "--label-field", "sentiment",
             "--strategy", "margin", "--strategy", "random", *SMALL, "--json", again)  # fmt: skip
    second = json.loads(again.read_text(encoding="utf-8"))
    assert [s["accuracy"] for s in second["strategies"]] == [s["accuracy"] for s in report["strategies"]]


def test_the_committed_json_schema_is_current() -> None:
    committed = json.loads((DOCS / "simulate-report.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "run: python -m hitloop.cli.simulate_report > docs/simulate-report.schema.json"
    )


def test_csv_input_and_a_png_plot(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["review", "sentiment"])
        writer.writeheader()
        writer.writerows(_rows())
    plot = tmp_path / "curves.png"
    simulate("--data", data, "--text-field", "review", "--label-field", "sentiment", "--strategy", "margin",
             *SMALL, "--json", tmp_path / "r.json", "--plot", plot)  # fmt: skip
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 200


def test_images_given_as_paths_relative_to_the_data_file(tmp_path: Path) -> None:
    # Bright squares top-left vs bottom-right: two classes an image learner separates.
    rng = np.random.default_rng(1)
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(40):
        pixels = rng.integers(0, 40, (16, 16)).astype(np.uint8)
        corner = (slice(0, 8), slice(0, 8)) if i % 2 else (slice(8, 16), slice(8, 16))
        pixels[corner] = 220
        Image.fromarray(pixels).save(tmp_path / "img" / f"{i}.png")
        rows.append({"path": f"img/{i}.png", "label": "a" if i % 2 else "b"})
    data = _jsonl(tmp_path / "images.jsonl", rows)
    out = tmp_path / "r.json"
    simulate("--data", data, "--modality", "image", "--text-field", "path", "--label-field", "label",
             "--strategy", "margin", "--seed-labels", 4, "--batch", 6, "--budget", 10, "--repeats", 1,
             "--json", out)  # fmt: skip
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["data"]["modality"] == "image"
    assert report["strategies"][0]["accuracy_mean"][-1] >= 0.9


def _error(result: Result) -> str:
    """The one ``Error: ...`` line (click puts usage lines above its own option errors)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        (None, ("--data", "{tmp}/nope.jsonl"), "Error: {tmp}/nope.jsonl: no such file or folder"),
        (
            [{"review": "ok", "sentiment": "pos"}, {"text": "ok", "sentiment": "neg"}],
            (),
            "Error: {tmp}/d.jsonl:2, field 'review': the field 'review' is missing",
        ),
        (
            [{"review": "ok", "sentiment": "pos"}, {"review": "fine"}],
            (),
            "Error: {tmp}/d.jsonl:2, field 'sentiment': the field 'sentiment' is missing or empty",
        ),
        (
            [{"review": "ok", "sentiment": ["pos", "neg"]}],
            (),
            "Error: {tmp}/d.jsonl:1, field 'sentiment': simulate needs one label per item, got a list",
        ),
        (
            [{"review": f"text {i}", "sentiment": "pos"} for i in range(30)],
            (),
            "Error: {tmp}/d.jsonl, field 'sentiment': the field 'sentiment' holds one class only ('pos');"
            " a simulation needs at least two",
        ),
        (
            None,
            ("--strategy", "margin", "--strategy", "psychic"),
            "Error: field 'strategy': unknown strategy 'psychic';"
            " known: badge, cold-start, cover-margin, density-margin,",
        ),
        (
            None,
            ("--seed-labels", 50, "--budget", 20),
            "Error: field '--budget': the budget (20) is smaller than the seed labels (50)",
        ),
        (
            None,
            ("--seed-labels", 50, "--budget", 80),
            "Error: {tmp}/d.jsonl: the seed labels (50) exceed the pool: 60 items, 42 after holding out 30%",
        ),
        (None, ("--target", 1.5), "Error: Invalid value for '--target': 1.5 is not in the range 0.0<x<=1.0."),
        (None, ("--repeats", 0), "Error: Invalid value for '--repeats': 0 is not in the range x>=1."),
    ],
    ids=[
        "missing-file", "missing-text-field", "missing-label", "list-label", "one-class", "unknown-strategy",
        "budget-below-seed", "seed-above-pool", "bad-target", "zero-repeats",
    ],
)  # fmt: skip
def test_bad_input_gets_a_precise_error(
    tmp_path: Path, rows: list[dict[str, Any]] | None, args: tuple[object, ...], message: str
) -> None:
    data = _jsonl(tmp_path / "d.jsonl", _rows() if rows is None else rows)
    argv = [
        "--data",
        data,
        "--text-field",
        "review",
        "--label-field",
        "sentiment",
        "--json",
        tmp_path / "r.json",
    ]
    args = tuple(str(a).format(tmp=tmp_path) for a in args)
    if "--data" in args:
        argv = argv[2:]
    result = simulate(*argv, *args, expect=2)
    assert _error(result).startswith(message.format(tmp=tmp_path)), result.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("modality", "name", "noun"), [("image", "gone.png", "image"), ("audio", "gone.wav", "audio file")]
)
def test_a_missing_media_file_is_named_with_its_line(
    tmp_path: Path, modality: str, name: str, noun: str
) -> None:
    data = _jsonl(tmp_path / "d.jsonl", [{"path": name, "label": "a"}])
    result = simulate("--data", data, "--modality", modality, "--text-field", "path",
                      "--label-field", "label", "--json", tmp_path / "r.json", expect=2)  # fmt: skip
    assert _error(result).startswith(
        f"Error: {data}:1, field 'path': the {noun} {name!r} is not an existing file"
    )
    assert not (tmp_path / "r.json").exists()


def test_plot_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        sys.modules, "matplotlib", None
    )  # what an environment without it looks like to import
    data = _jsonl(tmp_path / "d.jsonl", _rows())
    result = simulate("--data", data, "--text-field", "review", "--label-field", "sentiment",
                      "--json", tmp_path / "r.json", "--plot", tmp_path / "p.png", expect=2)  # fmt: skip
    assert _error(result) == "Error: --plot needs matplotlib: pip install 'hitloop[plot]'"
    assert not (tmp_path / "r.json").exists()
