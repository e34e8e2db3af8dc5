"""A small text project for the model loop: two classes told apart by their words."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Suggestion
from hitloop.jobs import JobRunner, records
from hitloop.media.store import MediaStore
from hitloop.schemas import AnnotationIn, ItemIn, JobOut, ProjectCreate
from hitloop.services import annotations, auth, items, projects, retrain
from hitloop.services.items import ItemLimits
from hitloop.services.jobs import builtin_jobs
from hitloop.settings import Settings

POSITIVE = ["great", "lovely", "superb", "fun", "moving", "brilliant", "warm", "sharp"]
NEGATIVE = ["dull", "awful", "boring", "flat", "tedious", "clumsy", "weak", "bland"]
FILLER = ["film", "plot", "story", "actors", "scenes", "music", "ending", "script"]


def make_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, truth = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.sample(POSITIVE if label == "pos" else NEGATIVE, 2) + rng.sample(FILLER, 3)
        rng.shuffle(words)
        texts.append(" ".join(words))
        truth.append(label)
    return texts, truth


@dataclass
class Loop:
    db: Database
    settings: Settings
    runner: JobRunner
    user: int
    project: int
    ids: list[int]
    truth: dict[int, str]

    def label(self, item_ids: list[int], *, wrong: bool = False) -> None:
        for i in item_ids:
            label = self.truth[i] if not wrong else "pos"
            body = AnnotationIn(value={"label": label}, client_key=f"key-{i}-{label}-x")
            annotations.submit(self.db, self.user, i, body)

    def run_jobs(self) -> list[JobOut]:
        """Run every queued job here, in order, and return them as they ended."""
        ran = []
        while True:
            job = records.claim(self.db)
            if job is None:
                return ran
            self.runner.run_claimed(job)
            ran.append(records.get(self.db, job.id))


@pytest.fixture
def loop(db: Database, settings: Settings) -> Loop:
    return make_loop(db, settings)


def make_loop(db: Database, settings: Settings) -> Loop:
    """A project of 60 texts and a runner that is not started (run jobs with ``run_jobs``)."""
    user = auth.create_user(db, "ann", "ann-password").id
    p = projects.create_project(db, user, ProjectCreate(name="reviews", labels=["pos", "neg"]))
    texts, truth = make_texts(60)
    ids = items.add_items(db, p.id, user, [ItemIn(text=t) for t in texts], ItemLimits())
    # Not started: tests run jobs synchronously with run_jobs().
    runner = JobRunner(db, settings, builtin_jobs())
    return Loop(db, settings, runner, user, p.id, ids, dict(zip(ids, truth, strict=True)))


def label_train_and_suggest(
    db: Database, settings: Settings, project: int, user: int, truth: dict[int, str], labeled: list[int]
) -> list[Suggestion]:
    """Label ``labeled`` with their true labels, run the train job it queues, return the suggestions."""
    for i in labeled:
        annotations.submit(db, user, i, AnnotationIn(value={"label": truth[i]}, client_key=f"truth-key-{i}"))
    job, _ = retrain.request_training(db, project, user)
    runner = JobRunner(db, settings, builtin_jobs())
    while (claimed := records.claim(db)) is not None:
        runner.run_claimed(claimed)
    done = records.get(db, job.id)
    assert done.state == "done", done.error
    with db.read() as s:
        return list(s.scalars(select(Suggestion)))


def digit_png(pixels: np.ndarray) -> bytes:
    """One of scikit-learn's 8x8 digits (values 0..16) as a grayscale PNG."""
    buf = io.BytesIO()
    Image.fromarray((pixels * 15).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class DigitProject:
    project: int
    user: int
    store: MediaStore
    ids: list[int]
    truth: dict[int, str]
    images: np.ndarray  # all the 0 and 1 digits; the first len(ids) are uploaded
    targets: np.ndarray


def make_digit_project(db: Database, settings: Settings, n: int) -> DigitProject:
    """An image project of ``n`` uploaded 0/1 digits (nothing labeled yet)."""
    digits = load_digits(n_class=2)
    user = auth.create_user(db, "ann", "ann-password").id
    spec = ProjectCreate(name="digits", modality="image", labels=["0", "1"])
    project = projects.create_project(db, user, spec).id
    store = MediaStore(settings.media_dir)
    ids = [
        items.add_image(db, store, project, user, digit_png(img), filename=f"{i}.png", limits=ItemLimits())
        for i, img in enumerate(digits.images[:n])
    ]
    truth = dict(zip(ids, (str(t) for t in digits.target[:n]), strict=True))
    return DigitProject(project, user, store, ids, truth, digits.images, digits.target)
