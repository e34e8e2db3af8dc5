"""Temperature scaling of class scores (Guo et al., 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

__all__ = ["fit_temperature", "softmax_with_temperature"]


def softmax_with_temperature(logits: NDArray[Any], temperature: float = 1.0) -> NDArray[np.float64]:
    """Row-wise softmax of ``logits / temperature``; shape (n, n_classes) in and out."""
    return np.asarray(softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1))


def fit_temperature(
    logits: NDArray[Any], y: NDArray[np.intp], *, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """The temperature minimizing the negative log-likelihood of ``y`` under ``softmax(logits / T)``.

    Parameters
    ----------
    logits : ndarray of shape (n, n_classes)
        Held-out (out-of-fold) class scores; in-sample scores would say
        "never change anything".
    y : ndarray of int, shape (n,)
        Column index of the true class of each row.
    bounds : tuple of float
        Search interval for T.

    Returns
    -------
    float
        T > 1 softens overconfident scores, T < 1 sharpens timid ones.

    References
    ----------
    C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern
    Neural Networks", ICML 2017.
    """
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(z))

    def nll(t: float) -> float:
        return float(-log_softmax(z / t, axis=1)[rows, y].mean())

    result = minimize_scalar(nll, bounds=bounds, method="bounded", options={"xatol": 1e-3})
    return float(result.x)
