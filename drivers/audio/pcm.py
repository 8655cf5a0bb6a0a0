"""Small helpers on mono int16 blocks, shared by the backends and the speakerphone."""

from __future__ import annotations

import numpy as np

FULL_SCALE = 32768.0


def clip16(x: np.ndarray) -> np.ndarray:
    """Samples of any numeric type to int16, saturating instead of wrapping around."""
    return np.clip(np.rint(x) if x.dtype.kind == "f" else x, -32768, 32767).astype(np.int16)


def fit(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or padded with silence to ``n`` samples, as int16."""
    x = np.asarray(x).reshape(-1)
    if x.dtype != np.int16:
        x = clip16(x)
    if len(x) == n:
        return x
    return x[:n] if len(x) > n else np.concatenate([x, np.zeros(n - len(x), np.int16)])


def dbfs_gain(db: float) -> float:
    """A level in dB as a linear factor."""
    return float(10 ** (db / 20))
