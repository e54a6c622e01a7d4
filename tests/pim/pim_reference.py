"""An independent float64 NumPy/SciPy implementation of the official PIM-1 computation, written
from the spec (docs/pim.md) and working directly on the TensorFlow-layout arrays (HWIO conv
kernels, (in, out) dense kernels): an outside oracle for the PyTorch port and its converter."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _official_tables():
    import pyrtools

    f = pyrtools.pyramids.filters.steerable_filters("sp1_filters")
    # Column-major reshape == the official row-major reshape followed by a transpose.
    bands = [np.asarray(f["bfilts"])[:, k].reshape(9, 9, order="F") for k in range(2)]
    return f["lo0filt"], f["hi0filt"], f["lofilt"], bands


def _corr(img, kernel):
    """'same' cross-correlation with zero padding (odd kernels: centred)."""
    return ndimage.correlate(img, np.asarray(kernel, np.float64), mode="constant", cval=0.0)


def reference_pyramid(img: np.ndarray, nscales: int = 3) -> list[np.ndarray]:
    """(C, H, W) float64 -> the levels in PIM's reversed order, one channel at a time."""
    lo0, hi0, lofilt, bands = _official_tables()
    per_channel = []
    for ch in img:
        levels = [_corr(ch, hi0)]
        lo = _corr(ch, lo0)
        for _ in range(nscales):
            levels += [_corr(lo, bands[0]), _corr(lo, bands[1])]
            lo = _corr(lo, lofilt)[::2, ::2]
        levels.append(lo)
        per_channel.append(levels[::-1])
    return [np.stack([c[i] for c in per_channel]) for i in range(len(per_channel[0]))]


def _conv_same_hwio(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """TF Conv2D 'same' (cross-correlation, zero padding): x (C, H, W), kernel (kh, kw, C, O)."""
    out = np.empty((kernel.shape[3],) + x.shape[1:])
    for o in range(kernel.shape[3]):
        out[o] = sum(_corr(x[c], kernel[:, :, c, o]) for c in range(x.shape[0])) + bias[o]
    return out


def _dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras Dense on the channel axis of (C, H, W)."""
    return np.einsum("chw,co->ohw", x, kernel.astype(np.float64)) + bias[:, None, None]


def reference_means(img: np.ndarray, variables: dict, n_conv: int = 4) -> list[np.ndarray]:
    """Per level the encoder means (nz, H, W) of a PIM-1 model, img (3, H, W) in [0, 1]."""
    v = lambda name: variables[name + SUFFIX].astype(np.float64)  # noqa: E731
    means = []
    for i, level in enumerate(reference_pyramid(img)):
        f = level
        for j in range(n_conv):
            base = f"frontend/cnns/{i}/layer_with_weights-{j}"
            f = _conv_same_hwio(f, v(f"{base}/kernel"), v(f"{base}/bias"))
            if j < n_conv - 1:
                f = np.maximum(f, 0)
        enc = f"marginal_encoder/encoders/{i}/base"
        h = np.maximum(_dense(f, v(f"{enc}/0/kernel"), v(f"{enc}/0/bias")), 0)
        means.append(np.maximum(_dense(h, v(f"{enc}/1/kernel"), v(f"{enc}/1/bias")), 0))
    return means


def reference_pim1(x: np.ndarray, y: np.ndarray, variables: dict) -> float:
    mx, my = reference_means(x, variables), reference_means(y, variables)
    return float(np.mean([np.mean((a - b) ** 2) for a, b in zip(mx, my)]))


def reference_mixture_encoder(f: np.ndarray, variables: dict, level: int) -> tuple[np.ndarray, np.ndarray]:
    """PIM-5 encoder of one level on CNN output f (3, H, W): means (nmix, nz, H, W), logits."""
    v = lambda name: variables[name + SUFFIX].astype(np.float64)  # noqa: E731
    enc = f"marginal_encoder/encoders/{level}"
    h = np.maximum(_dense(f, v(f"{enc}/base/0/kernel"), v(f"{enc}/base/0/bias")), 0)
    means = np.maximum(_dense(h, v(f"{enc}/base/1/kernel"), v(f"{enc}/base/1/bias")), 0)
    g = np.maximum(_dense(f, v(f"{enc}/mix/0/kernel"), v(f"{enc}/mix/0/bias")), 0)
    g = np.maximum(_dense(g, v(f"{enc}/mix/1/kernel"), v(f"{enc}/mix/1/bias")), 0)
    logits = _dense(g, v(f"{enc}/logit_layer/kernel"), v(f"{enc}/logit_layer/bias"))
    nmix = logits.shape[0]
    return means.reshape(nmix, -1, *f.shape[1:]), logits
