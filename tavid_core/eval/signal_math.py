"""Small numeric helpers shared by the metrics: safe statistics and lagged correlation."""
from __future__ import annotations

import numpy as np


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0 when either side does not vary (a frozen face has no correlation)."""
    if len(x) < 3:
        return 0.0
    x, y = x - x.mean(), y - y.mean()
    norm = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / norm) if norm > 1e-12 else 0.0


def lagged_correlation(x: np.ndarray, y: np.ndarray, mask: np.ndarray, lags: range) -> np.ndarray:
    """corr(x[t], y[t + lag]) over the frames t where `mask` holds, for each lag."""
    frames = np.flatnonzero(mask)
    out = []
    for lag in lags:
        t = frames[(frames + lag >= 0) & (frames + lag < len(y))]
        out.append(correlation(x[t], y[t + lag]))
    return np.array(out)


def mean_or_none(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def percentile_or_none(values, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def ratio_or_none(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 1e-12 else float(a / b)
