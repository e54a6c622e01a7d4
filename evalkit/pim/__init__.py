"""PIM (Perceptual Information Metric, Bhardwaj et al., NeurIPS 2020) in PyTorch.

Modules: :mod:`~evalkit.pim.pyramid` (steerable-pyramid front end),
:mod:`~evalkit.pim.model` (per-level CNNs and per-pixel encoders),
:mod:`~evalkit.pim.conv` / :mod:`~evalkit.pim.nnpack` (the 5x5 convolutions: NNPACK with
precomputed kernel transforms and fused ReLU), :mod:`~evalkit.pim.tiles` (tiles and
reconstructions as parallel single-threaded jobs),
:mod:`~evalkit.pim.distance` (symmetric KL; PIM-5 sampled with a seed),
:mod:`~evalkit.pim.stream` (the distances streamed from CNN outputs, PIM-5's reference memo),
:mod:`~evalkit.pim.tf_checkpoint` / :mod:`~evalkit.pim.sstable` / :mod:`~evalkit.pim.crc32c`
(TensorFlow checkpoint reader/writer, no TensorFlow needed), :mod:`~evalkit.pim.convert`
(official archive -> ``pim-1.pt`` / ``pim-5.pt``) and :mod:`~evalkit.pim.metric` (the ``pim``
and ``pim5`` registry entries).  See ``docs/pim.md``.
"""

from evalkit.pim.convert import convert_archive, load_converted

__all__ = ["convert_archive", "load_converted"]
