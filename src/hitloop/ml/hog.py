"""Histograms of oriented gradients (Dalal & Triggs, 2005) in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["hog"]


def hog(
    images: NDArray[Any],
    *,
    cells: int = 4,
    block: int = 2,
    orientations: int = 9,
) -> NDArray[np.float64]:
    """HOG descriptors of a batch of grayscale images.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width)
        Grayscale intensities; all images the same size.
    cells : int
        Number of cells along each side; a cell is ``height // cells`` by
        ``width // cells`` pixels (remaining edge pixels are dropped).
    block : int
        Cells per side of a normalization block; blocks slide by one cell.
    orientations : int
        Unsigned orientation bins over [0, π); votes are split linearly
        between the two nearest bins.

    Returns
    -------
    ndarray of shape (n_images, (cells - block + 1) ** 2 * block ** 2 * orientations)
        L2-Hys normalized block histograms, concatenated.

    References
    ----------
    N. Dalal and B. Triggs, "Histograms of Oriented Gradients for Human
    Detection", CVPR 2005.
    """
    im = np.asarray(images, dtype=np.float64)
    if im.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {im.shape}")
    if not 1 <= block <= cells:
        raise ValueError(f"block must be between 1 and cells ({cells}), got {block}")
    n, height, width = im.shape
    ch, cw = height // cells, width // cells
    if ch < 1 or cw < 1:
        raise ValueError(f"images of {height}x{width} pixels are too small for {cells} cells per side")
    gx = np.zeros_like(im)
    gy = np.zeros_like(im)
    gx[:, :, 1:-1] = im[:, :, 2:] - im[:, :, :-2]
    gy[:, 1:-1, :] = im[:, 2:, :] - im[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    position = np.mod(np.arctan2(gy, gx), np.pi) / np.pi * orientations - 0.5
    low = np.floor(position)
    w_high = position - low
    low_bin = np.mod(low.astype(np.intp), orientations)
    high_bin = np.mod(low_bin + 1, orientations)
    # One-hot votes keep this vectorized; n * h * w * orientations floats is small for thumbnails.
    votes = np.zeros((n, height, width, orientations))
    np.put_along_axis(votes, low_bin[..., None], (magnitude * (1.0 - w_high))[..., None], axis=3)
    high_votes = np.take_along_axis(votes, high_bin[..., None], axis=3) + (magnitude * w_high)[..., None]
    np.put_along_axis(votes, high_bin[..., None], high_votes, axis=3)
    cropped = votes[:, : cells * ch, : cells * cw]
    histograms = cropped.reshape(n, cells, ch, cells, cw, orientations).sum(axis=(2, 4))
    blocks = []
    for i in range(cells - block + 1):
        for j in range(cells - block + 1):
            b = histograms[:, i : i + block, j : j + block].reshape(n, -1)
            b = b / np.sqrt((b**2).sum(axis=1, keepdims=True) + 1e-6)
            b = np.minimum(b, 0.2)
            blocks.append(b / np.sqrt((b**2).sum(axis=1, keepdims=True) + 1e-6))
    return np.concatenate(blocks, axis=1)
