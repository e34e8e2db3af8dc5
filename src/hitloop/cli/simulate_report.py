"""The JSON report of ``hitloop simulate``: a versioned schema, documented in docs/ml.md.

The JSON Schema generated from :class:`SimulationReport` is committed as
``docs/simulate-report.schema.json`` (written by ``python -m hitloop.cli.docs``);
``tests/cli/test_simulate.py`` checks it
is current and that real output validates against it. Adding an optional
field keeps ``schema_version``; renaming, removing or changing the meaning of
one raises it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hitloop.ml.simulate import SimulationResult

__all__ = ["SCHEMA_VERSION", "SimulationReport", "json_schema"]

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSummary(_Strict):
    """What was read."""

    file: str = Field(description="The --data file as given.")
    modality: Literal["text", "image", "audio"]
    text_field: str = Field(description="The field holding the text (or the image path).")
    label_field: str
    items: int = Field(description="Items read (pool and held-out together).")
    classes: list[str] = Field(description="Every label in the file, sorted.")
    class_counts: dict[str, int] = Field(description="Items per label.")


class Setup(_Strict):
    """How the simulation ran; the same setup and seed give the same report."""

    featurizer: str = Field(
        description="The featurizer, as its Python repr (the loop's default for the modality)."
    )
    learner: str = Field(description="The learner, as its Python repr (the loop's default for the modality).")
    seed_labels: int
    batch: int
    budget: int = Field(description="Labels at the end (--budget, capped at the pool size).")
    repeats: int
    target: float = Field(description="The fraction of full-pool accuracy labels_to_target refers to.")
    test_size: float = Field(description="Held-out fraction per repeat (stratified, a new split per repeat).")
    seed: int
    seed_selection: Literal["strategy", "random"] = Field(
        description="Who picks the seed labels: the strategy (cold start, as in the loop) or chance."
    )
    featurize_seconds: float


class StrategyRun(_Strict):
    """One strategy's learning curve over the repeats."""

    name: str = Field(description="The registered strategy name.")
    params: dict[str, Any] = Field(description="The strategy's parameters (get_params).")
    labels: list[int] = Field(description="Labels given at each evaluation (x axis).")
    accuracy_mean: list[float] = Field(description="Mean held-out accuracy at each point of labels.")
    accuracy_std: list[float] = Field(description="Standard deviation over repeats at each point.")
    accuracy: list[list[float]] = Field(description="Held-out accuracy, one row per repeat.")
    reference_accuracy: list[float] = Field(
        description="Per repeat: held-out accuracy of the same learner trained on the whole pool."
    )
    reference_accuracy_mean: float
    target_accuracy: float = Field(
        description="target × reference_accuracy_mean: the bar labels_to_target refers to."
    )
    labels_to_target: int | None = Field(
        description="Fewest labels at which accuracy_mean reaches target_accuracy;"
        " null when the budget ran out first."
    )
    labels_to_target_per_repeat: list[int | None] = Field(
        description="The same per repeat, each against its own reference."
    )
    seconds: float


class SimulationReport(_Strict):
    """What ``hitloop simulate --json`` writes."""

    schema_version: Literal[1] = Field(
        description="Raised when a field is renamed, removed or changes meaning."
    )
    hitloop_version: str
    created_at: str = Field(description="UTC time of the report, ISO 8601.")
    data: DataSummary
    setup: Setup
    strategies: list[StrategyRun] = Field(description="One entry per --strategy, in the order given.")

    @classmethod
    def build(
        cls,
        *,
        file: str,
        modality: str,
        text_field: str,
        label_field: str,
        labels: list[str],
        featurizer: str,
        learner: str,
        seed_labels: int,
        batch: int,
        budget: int,
        repeats: int,
        target: float,
        test_size: float,
        seed: int,
        featurize_seconds: float,
        strategies: dict[str, tuple[Any, SimulationResult]],
        hitloop_version: str,
    ) -> SimulationReport:
        counts = Counter(labels)
        runs = []
        for name, (strategy, result) in strategies.items():
            summary = result.to_dict(target)
            reference = float(result.reference_accuracy.mean())
            runs.append(
                StrategyRun(
                    name=name,
                    params=json.loads(json.dumps(strategy.get_params(), default=repr)),
                    labels=summary["labels"],
                    accuracy_mean=summary["accuracy_mean"],
                    accuracy_std=summary["accuracy_std"],
                    accuracy=summary["accuracy"],
                    reference_accuracy=summary["reference_accuracy"],
                    reference_accuracy_mean=round(reference, 5),
                    target_accuracy=round(target * reference, 5),
                    labels_to_target=summary["labels_to_target"],
                    labels_to_target_per_repeat=summary["labels_to_target_per_repeat"],
                    seconds=summary["seconds"],
                )
            )
        return cls(
            schema_version=SCHEMA_VERSION,
            hitloop_version=hitloop_version,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            data=DataSummary(
                file=file,
                modality=modality,
                text_field=text_field,
                label_field=label_field,
                items=len(labels),
                classes=sorted(counts),
                class_counts=dict(sorted(counts.items())),
            ),
            setup=Setup(
                featurizer=featurizer,
                learner=learner,
                seed_labels=seed_labels,
                batch=batch,
                budget=budget,
                repeats=repeats,
                target=target,
                test_size=test_size,
                seed=seed,
                seed_selection="strategy",
                featurize_seconds=round(featurize_seconds, 3),
            ),
            strategies=runs,
        )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the report, as committed in docs/simulate-report.schema.json."""
    schema = SimulationReport.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"hitloop.simulate-report.v{SCHEMA_VERSION}"
    return schema
