"""``hitloop simulate``: replay labeling on your own labeled data, measure the labels each strategy saves."""

from __future__ import annotations

import json
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from hitloop import plugins
from hitloop.cli.errors import CommandError
from hitloop.cli.progress import progress_bar
from hitloop.cli.simulate_report import SimulationReport
from hitloop.errors import InputError
from hitloop.formats import detect_format, open_reader
from hitloop.ml.audio import featurizer_samplerate
from hitloop.ml.defaults import (
    TEXT_FEATURIZERS,
    default_featurizer,
    default_learner,
    default_strategy_name,
    text_featurizer,
)
from hitloop.ml.simulate import SimulationResult, simulate
from hitloop.ml.strategies import DEFAULT_STRATEGY

__all__ = ["simulate_command"]

MODALITIES = ("text", "image", "audio")
TEST_SIZE = 0.3


def _read(path: Path, modality: str, text_field: str, label_field: str) -> tuple[list[Any], list[str]]:
    """The raw items (texts or image paths) and their labels, every row checked."""
    kind = detect_format(path)
    if kind == "folder":
        raise InputError("simulate needs a JSONL, CSV or Parquet file with a label per item", file=str(path))
    fields: dict[str, Any] = {"label_field": label_field}
    if modality == "text":
        fields["text_field"] = text_field
    else:
        fields.update(image_field=text_field, media=modality)
    items: list[Any] = []
    labels: list[str] = []
    for record in open_reader(path, format=kind, **fields):
        if record.label is None:
            raise InputError(
                f"the field {label_field!r} is missing or empty",
                file=str(path),
                line=record.line,
                field=label_field,
            )
        if not isinstance(record.label, str):
            raise InputError(
                "simulate needs one label per item, got a list",
                file=str(path),
                line=record.line,
                field=label_field,
            )
        items.append(record.text if modality == "text" else (record.image_path, record.line))
        labels.append(record.label)
    if not items:
        raise InputError("the file holds no items", file=str(path))
    return items, labels


def _load_images(path: Path, entries: list[tuple[Path, int]], field: str) -> list[NDArray[np.uint8]]:
    """Decode every image to grayscale; all are resized to the most common size."""
    images = []
    for image_path, line in entries:
        try:
            with Image.open(image_path) as image:
                images.append(np.asarray(image.convert("L")))
        except (UnidentifiedImageError, OSError) as exc:
            raise InputError(
                f"cannot read the image {image_path}: {exc}", file=str(path), line=line, field=field
            ) from None
    return images


def _load_audio(
    path: Path, entries: list[tuple[Path, int]], field: str, rate: int
) -> list[NDArray[np.float32]]:
    """Decode every recording to mono at ``rate`` (the featurizer's, as the loop does)."""
    from hitloop.formats.audio import decode_audio

    clips = []
    for audio_path, line in entries:
        try:
            clips.append(decode_audio(audio_path, samplerate=rate)[0])
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise InputError(
                f"cannot read the recording {audio_path}: {exc}", file=str(path), line=line, field=field
            ) from None
    return clips


def _check_classes(path: Path, labels: list[str], label_field: str) -> None:
    counts = Counter(labels)
    if len(counts) < 2:
        raise InputError(
            f"the field {label_field!r} holds one class only ({next(iter(counts))!r});"
            " a simulation needs at least two",
            file=str(path),
            field=label_field,
        )


def _featurizer(name: str, modality: str) -> Any:
    """``--featurizer``: "default", a text stack (``auto``, ``minilm+tfidf``, ...) or a registered name."""
    if name == "default":
        return default_featurizer(modality)
    if modality == "text" and name in TEXT_FEATURIZERS:
        return text_featurizer(name)
    known = plugins.featurizers()
    if name not in known:
        names = ["default", *(TEXT_FEATURIZERS if modality == "text" else ()), *sorted(known)]
        raise InputError(
            f"unknown featurizer {name!r}; known: {', '.join(dict.fromkeys(names))}", field="--featurizer"
        )
    featurizer = plugins.make_featurizer(name)
    reads = getattr(featurizer, "modality", "")
    if reads and reads != modality:
        raise InputError(
            f"the featurizer {name!r} reads {reads} items, not {modality} (--modality {modality})",
            field="--featurizer",
        )
    return featurizer


def _learner(name: str, modality: str) -> Any:
    """``--learner``: "default" (the loop's learner for the modality) or a registered name."""
    if name == "default":
        return default_learner(modality)
    if name not in plugins.learners():
        known = ", ".join(["default", *sorted(plugins.learners())])
        raise InputError(f"unknown learner {name!r}; known: {known}", field="--learner")
    return plugins.make_learner(name)


def _plot(report: SimulationReport, out: Path) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CommandError("--plot needs matplotlib: pip install 'hitloop[plot]'") from None
    figure = Figure(figsize=(7, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for run in report.strategies:
        mean, std = np.array(run.accuracy_mean), np.array(run.accuracy_std)
        (line,) = ax.plot(run.labels, mean, label=run.name, linewidth=1.6)
        ax.fill_between(run.labels, mean - std, mean + std, color=line.get_color(), alpha=0.15, linewidth=0)
        if run.labels_to_target is not None:
            ax.axvline(run.labels_to_target, color=line.get_color(), linestyle=":", linewidth=1)
    bar = report.strategies[0].target_accuracy
    ax.axhline(bar, color="grey", linestyle="--", linewidth=1, label=f"{report.setup.target:g} × full-pool")
    ax.set_xlabel("labels")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(
        f"{Path(report.data.file).name}: {report.data.items:,} items, {len(report.data.classes)} classes"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    try:
        figure.savefig(out, format="png")
    except OSError as exc:
        raise InputError(f"cannot write the plot: {exc.strerror or exc}", file=str(out)) from None


def _write_json(out: Path, report: SimulationReport) -> None:
    try:
        out.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror or exc}", file=str(out)) from None


@click.command("simulate")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Labeled items: a JSONL, CSV or Parquet file.",
)
@click.option(
    "--text-field",
    required=True,
    help="Field holding the text, or the file's path for --modality image or audio.",
)
@click.option("--label-field", required=True, help="Field holding each item's true label.")
@click.option(
    "--modality",
    type=click.Choice(MODALITIES),
    default="text",
    show_default=True,
    help="Texts, or image or audio files (paths relative to the data file).",
)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    metavar="NAME",
    help=f"A query strategy to simulate; repeat for several [default: {DEFAULT_STRATEGY} "
    f"(audio: {default_strategy_name('audio')}) and random].",
)
@click.option(
    "--featurizer",
    "featurizer_name",
    default="default",
    show_default=True,
    metavar="NAME",
    help="Features: the modality's default (for text, 'auto': MiniLM + TF-IDF when the embeddings"
    f" extra is installed, else TF-IDF), a text stack ({', '.join(TEXT_FEATURIZERS[1:])})"
    " or any registered featurizer.",
)
@click.option(
    "--learner",
    "learner_name",
    default="default",
    show_default=True,
    metavar="NAME",
    help="The modality's default learner or any registered learner (logistic, label-spreading, ...).",
)
@click.option(
    "--seed-labels",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Labels before the first training.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Labels per round between trainings.",
)
@click.option(
    "--budget", type=click.IntRange(min=1), default=300, show_default=True, help="Stop at this many labels."
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Runs per strategy, each with its own held-out split.",
)
@click.option(
    "--target",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.95,
    show_default=True,
    help="Fraction of the full-pool accuracy that labels_to_target refers to.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed: the same seed gives the same report."
)
@click.option(
    "--json",
    "json_out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report.",
)
@click.option(
    "--plot",
    "plot_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the learning curves to this PNG (needs matplotlib).",
)
@click.option("--quiet", "-q", is_flag=True, help="Show no progress bar.")
def simulate_command(
    data: Path,
    text_field: str,
    label_field: str,
    modality: str,
    strategies: tuple[str, ...],
    featurizer_name: str,
    learner_name: str,
    seed_labels: int,
    batch: int,
    budget: int,
    repeats: int,
    target: float,
    seed: int,
    json_out: Path,
    plot_out: Path | None,
    quiet: bool,
) -> None:
    """Replay labeling with a simulated annotator who answers from the file's labels.

    Runs the loop's own featurizer, learner and query strategies in-process
    (or the ones named by --featurizer and --learner).
    For each repeat, 30% of the items (stratified) are held out; the rest is
    the pool. The first --seed-labels are picked by the strategy (cold start),
    then after each training it picks the next --batch, until --budget labels.
    The report gives each strategy's learning curve (mean and spread of
    held-out accuracy over the repeats) and labels_to_target: the labels
    needed to reach --target times the accuracy of the same learner trained
    on the whole pool. docs/ml.md describes the JSON.
    """
    names = list(dict.fromkeys(strategies or (default_strategy_name(modality), "random")))
    built = {name: plugins.make_strategy(name) for name in names}  # unknown names fail before any work
    featurizer = _featurizer(featurizer_name, modality)
    learner = _learner(learner_name, modality)
    if budget < seed_labels:
        raise InputError(
            f"the budget ({budget}) is smaller than the seed labels ({seed_labels})", field="--budget"
        )
    if plot_out is not None:
        _plot_available()
    items, labels = _read(data, modality, text_field, label_field)
    _check_classes(data, labels, label_field)
    n_pool = len(items) - int(np.ceil(TEST_SIZE * len(items)))
    if seed_labels > n_pool:
        raise InputError(
            f"the seed labels ({seed_labels}) exceed the pool: {len(items)} items, {n_pool} after holding out"
            f" {TEST_SIZE:.0%}",
            file=str(data),
        )
    if modality == "audio":
        raw: Any = _load_audio(data, items, text_field, featurizer_samplerate(featurizer))
    else:
        raw = items if modality == "text" else _load_images(data, items, text_field)
    if modality == "image":
        sizes = Counter(image.shape for image in raw)
        if len(sizes) > 1 and "size" in featurizer.get_params():
            featurizer.set_params(size=sizes.most_common(1)[0][0])
    started = time.perf_counter()
    try:
        X = featurizer.fit_transform(raw)
    except (ImportError, ValueError) as exc:  # an optional package it needs, or parameters it refuses
        raise InputError(
            f"the featurizer {featurizer_name!r} cannot run: {exc}", field="--featurizer"
        ) from None
    featurize_seconds = time.perf_counter() - started
    results: dict[str, SimulationResult] = {}
    with progress_bar(None, unit="trainings", quiet=quiet) as bar:
        for name, strategy in built.items():
            bar.set_description(name)

            def advance(done: int, total: int) -> None:
                if bar.total is None:
                    bar.total = total * len(built)
                bar.update(1)

            results[name] = simulate(
                X,
                np.asarray(labels, dtype=object),
                learner=learner,
                strategy=strategy,
                seed_labels=seed_labels,
                batch_size=batch,
                budget=budget,
                repeats=repeats,
                test_size=TEST_SIZE,
                seed_selection="strategy",
                random_state=seed,
                progress=advance,
            )
    report = SimulationReport.build(
        file=str(data),
        modality=modality,
        text_field=text_field,
        label_field=label_field,
        labels=labels,
        featurizer=repr(featurizer),
        learner=repr(learner),
        seed_labels=seed_labels,
        batch=batch,
        budget=min(budget, n_pool),
        repeats=repeats,
        target=target,
        test_size=TEST_SIZE,
        seed=seed,
        featurize_seconds=featurize_seconds,
        strategies={name: (built[name], result) for name, result in results.items()},
        hitloop_version=_version(),
    )
    _write_json(json_out, report)
    if plot_out is not None:
        _plot(report, plot_out)
    for run in report.strategies:
        reached = "not reached" if run.labels_to_target is None else f"{run.labels_to_target} labels"
        click.echo(
            f"{run.name:>20}: {target:g} × full-pool accuracy ({run.target_accuracy:.3f}): {reached};"
            f" final {run.accuracy_mean[-1]:.3f}"
        )
    click.echo(f"Wrote {json_out}" + (f" and {plot_out}" if plot_out is not None else ""))


def _plot_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CommandError("--plot needs matplotlib: pip install 'hitloop[plot]'") from None


def _version() -> str:
    try:
        return version("hitloop")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"
