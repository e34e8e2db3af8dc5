"""Seed a local demo: a login and two ready projects, one of images and one of text.

:func:`ensure_demo` is idempotent: a second call finds what the first one made
and adds nothing. Every demo item carries its true answer in
``meta["true_label"]`` (a label name), for simulated annotators and for
checking a model against the truth.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select

from hitloop.db.engine import Database
from hitloop.db.tables import Item, Media
from hitloop.formats.records import ItemRecord
from hitloop.media.store import MediaStore
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, items, projects
from hitloop.services.audit import record_event
from hitloop.services.items import ItemLimits
from hitloop.types import ItemState, Modality, TaskType

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "DIGITS_PROJECT",
    "DIGIT_SCALE",
    "SENTIMENT_PROJECT",
    "DemoContext",
    "DemoInfo",
    "DemoProject",
    "digit_png",
    "ensure_demo",
    "sentiment_sentences",
]

DEMO_USERNAME = "demo"
# A fixed, documented password is fine for a demo bound to 127.0.0.1; it is printed on every run.
DEMO_PASSWORD = "demo-password"
DIGITS_PROJECT = "Handwritten digits"
SENTIMENT_PROJECT = "Review sentiment"
DIGIT_SCALE = 16  # 8x8 pixels become 128x128, enlarged by repetition so the pixels stay crisp
_IN_CHUNK = 500  # values per SQL IN (...) list


class DemoContext(Protocol):
    """What the demo needs; :class:`hitloop.api.context.AppContext` provides it."""

    @property
    def db(self) -> Database: ...

    @property
    def media(self) -> MediaStore: ...

    @property
    def limits(self) -> ItemLimits: ...


@dataclass(frozen=True, slots=True)
class DemoProject:
    id: int
    name: str
    items: int
    created: bool  # False when an earlier run had already filled it


@dataclass(frozen=True, slots=True)
class DemoInfo:
    username: str
    password: str
    user_created: bool
    projects: list[DemoProject]


Seeder = Callable[["DemoContext", int, int], int]


def ensure_demo(ctx: DemoContext) -> DemoInfo:
    """Create the demo user (an administrator) and projects unless they exist; say how to log in."""
    user_id, user_created = _ensure_user(ctx.db)
    existing = {p.name: p for p in projects.list_projects(ctx.db, with_stats=True)}
    specs: list[tuple[ProjectCreate, Seeder]] = [
        (
            ProjectCreate(
                name=DIGITS_PROJECT,
                task=TaskType.CLASSIFY,
                modality=Modality.IMAGE,
                # 1 to 9, then 0: the labeling page's keys pick the 1st to 9th label, and 0 the
                # 10th, so each digit's own key picks it.
                labels=[str(digit) for digit in (*range(1, 10), 0)],
                instructions="Which digit is this? Press its number key.",
            ),
            _seed_digits,
        ),
        (
            ProjectCreate(
                name=SENTIMENT_PROJECT,
                task=TaskType.CLASSIFY,
                modality=Modality.TEXT,
                labels=["positive", "negative"],
                instructions="Is the reviewer happy (positive) or unhappy (negative)?",
            ),
            _seed_sentiment,
        ),
    ]
    made = []
    for spec, seed in specs:
        found = existing.get(spec.name)
        if found is not None and found.stats is not None and found.stats.total > 0:
            made.append(DemoProject(id=found.id, name=found.name, items=found.stats.total, created=False))
            continue
        # A project without items is what an interrupted first run leaves: fill it now.
        project = found or projects.create_project(ctx.db, user_id, spec)
        count = seed(ctx, user_id, project.id)
        made.append(DemoProject(id=project.id, name=project.name, items=count, created=True))
    return DemoInfo(username=DEMO_USERNAME, password=DEMO_PASSWORD, user_created=user_created, projects=made)


def _ensure_user(db: Database) -> tuple[int, bool]:
    for user in auth.list_users(db):
        if user.username == DEMO_USERNAME:
            return user.id, False
    return auth.create_user(db, DEMO_USERNAME, DEMO_PASSWORD, is_admin=True).id, True


def _seed_digits(ctx: DemoContext, user_id: int, project_id: int) -> int:
    """Store the 1,797 digits in one transaction.

    The import service reads each image from a file and checks it in its own
    short transaction, which suits files from outside; these PNGs are made
    here, so they go to the media store directly and their rows in bulk.
    """
    # Imported here: scikit-learn takes a second or two to import, and only the first run needs it.
    from sklearn.datasets import load_digits

    digits = load_digits()
    now = time.time()
    media_rows: dict[str, dict[str, Any]] = {}
    item_rows: list[dict[str, Any]] = []
    for index, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        data = digit_png(pixels)
        sha = ctx.media.put(data)
        media_rows[sha] = {
            "sha256": sha,
            "content_type": "image/png",
            "size": len(data),
            "width": pixels.shape[1] * DIGIT_SCALE,
            "height": pixels.shape[0] * DIGIT_SCALE,
            "created_at": now,
        }
        item_rows.append(
            {
                "project_id": project_id,
                "external_id": f"digits-{index:04d}",
                "text": None,
                "media_sha256": sha,
                "meta": {
                    "true_label": str(int(target)),
                    "index": index,
                    "source": "scikit-learn load_digits",
                },
                "priority": 0.0,
                "state": ItemState.OPEN.value,
                "n_answers": 0,
                "source": "demo",
                "created_at": now,
            }
        )
    with ctx.db.write() as s:
        shas = list(media_rows)
        for start in range(0, len(shas), _IN_CHUNK):
            chunk = shas[start : start + _IN_CHUNK]
            for sha in s.scalars(select(Media.sha256).where(Media.sha256.in_(chunk))):
                del media_rows[sha]  # stored by an earlier project or run
        if media_rows:
            s.execute(insert(Media), list(media_rows.values()))
        s.execute(insert(Item), item_rows)
        record_event(
            s,
            user_id,
            project_id,
            "items.import",
            "project",
            project_id,
            {"source": "demo", "count": len(item_rows)},
        )
    return len(item_rows)


def _seed_sentiment(ctx: DemoContext, user_id: int, project_id: int) -> int:
    records = (
        ItemRecord(line=index, text=text, external_id=f"review-{index:03d}", meta={"true_label": label})
        for index, (text, label) in enumerate(sentiment_sentences(), 1)
    )
    result = items.import_records(
        ctx.db, ctx.media, project_id, user_id, records, source="demo", limits=ctx.limits
    )
    return result.created


def digit_png(pixels: Any) -> bytes:
    """An 8x8 digit (values 0-16, as in scikit-learn) as a dark-on-white PNG, enlarged."""
    import numpy as np
    from PIL import Image

    grid = np.clip(np.asarray(pixels, dtype=np.float64), 0, 16)
    gray = (255 - np.rint(grid * (255 / 16))).astype(np.uint8)
    big = np.repeat(np.repeat(gray, DIGIT_SCALE, axis=0), DIGIT_SCALE, axis=1)
    out = io.BytesIO()
    Image.fromarray(big).save(out, format="PNG")
    return out.getvalue()


_SUBJECTS = [
    "The hotel room",
    "This laptop",
    "The delivery",
    "Our waiter",
    "The latest app update",
    "This coffee",
    "The concert",
    "The checkout process",
    "The customer support team",
    "This novel",
    "The rental car",
    "The new phone case",
    "The cooking class",
    "This vacuum cleaner",
    "The train journey",
    "The pizza",
    "This pair of headphones",
    "The museum tour",
    "The yoga studio",
    "This board game",
]
_POSITIVE = [
    "was absolutely wonderful.",
    "exceeded every expectation I had.",
    "is worth every penny.",
    "made my whole week better.",
    "was quick, friendly and easy.",
    "turned out even better than the reviews said.",
    "is something I would happily recommend to anyone.",
    "was a real pleasure from start to finish.",
    "works perfectly and looks great.",
    "left me smiling for hours.",
]
_NEGATIVE = [
    "was a complete waste of money.",
    "fell apart after two days.",
    "left me waiting for over an hour.",
    "was rude, slow and disappointing.",
    "is the worst I have tried in years.",
    "did not work at all, so I asked for a refund.",
    "was noisy, dirty and overpriced.",
    "broke my heart a little, and not in a good way.",
    "ruined what should have been a nice evening.",
    "is something I would never buy again.",
]


def sentiment_sentences(per_label: int = 100) -> list[tuple[str, str]]:
    """``2 * per_label`` distinct short reviews as ``(text, label)``, in a fixed shuffled order."""
    rng = random.Random(20_240_601)
    out: list[tuple[str, str]] = []
    for label, endings in (("positive", _POSITIVE), ("negative", _NEGATIVE)):
        pairs = [(subject, ending) for subject in _SUBJECTS for ending in endings]
        out.extend((f"{subject} {ending}", label) for subject, ending in rng.sample(pairs, per_label))
    rng.shuffle(out)
    return out
