"""``--device auto|cpu|cuda|cuda:N|mps``: one place that turns the option into a torch device.

``auto`` picks the first CUDA GPU when there is one, else the CPU (Apple's ``mps`` is used only
when asked for: float64, which PSNR's sums use, is not supported there).  Asking for a device
that is not present is a :class:`~evalkit.errors.MetricError` naming it.
"""

from __future__ import annotations

import re

from evalkit.errors import MetricError

DEVICE_HELP = "auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps"
_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_name(name: str) -> str:
    """``name`` if it is a valid ``--device`` value (no torch import), else MetricError."""
    text = str(name).strip().lower()
    if not _PATTERN.match(text):
        raise MetricError(f"device must be {DEVICE_HELP}, got {name!r}")
    return text


def resolve_device(name: str = "auto") -> str:
    """The torch device string for ``name`` (``auto`` resolved), checked to be present."""
    import torch

    text = check_device_name(name)
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MetricError(f"device {name!r} asked for, but torch sees no CUDA GPU "
                              f"(use --device cpu or auto)")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise MetricError(f"device {name!r} asked for, but only "
                              f"{torch.cuda.device_count()} CUDA GPU(s) exist")
    if text == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise MetricError(f"device {name!r} asked for, but MPS is not available here")
    return text
