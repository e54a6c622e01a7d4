"""The catalog of every pretrained file evalkit's metrics may need.

Each entry gives the official file name, where it comes from, its sha256 and size.  Which
metrics need a file is a fact of the metric registry (``MetricSpec.needs_weights``), read by
:attr:`WeightFile.needed_by`.  Add new files here only; the store and the CLI read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import WeightsError


@dataclass(frozen=True)
class WeightFile:
    """One pretrained file.

    Attributes:
        name: catalog key used on the command line (``evalkit weights fetch alexnet``).
        filename: the official file name; it is looked up under this name everywhere.
        url: where the file is published.
        sha256: hex digest of the official file (None only when no official digest exists).
        size: size in bytes of the official file (None when unknown).
        description: one line for ``evalkit weights status``.
        metrics: metric names that need this file besides those the registry names (for
            files registered outside evalkit's own metrics).
        package: a Python package that ships the file (``package``, ``relative/path``), if any.
        sha512: hex digest where the publisher gives SHA-512 instead (e.g. the PIM archives).
        aliases: other official names of the very same bytes (another project publishes the
            file under its own name); looked up after ``filename`` in every place.
        makes: catalog names of files made locally from this one (a PIM archive makes the
            converted ``.pt``); the metrics needing those need this file too.
    """

    name: str
    filename: str
    url: str
    sha256: str | None
    size: int | None
    metrics: tuple[str, ...] = ()
    description: str = ""
    package: tuple[str, str] | None = None
    sha512: str | None = None
    aliases: tuple[str, ...] = ()
    makes: tuple[str, ...] = ()

    @property
    def needed_by(self) -> tuple[str, ...]:
        """Names of the metrics that need this file (from the metric registry)."""
        from evalkit.metrics.registry import metrics_needing

        names = [*self.metrics]
        for key in (self.name, *self.makes):
            names += metrics_needing(key)
        return tuple(dict.fromkeys(names))

    @property
    def filenames(self) -> tuple[str, ...]:
        return (self.filename, *self.aliases)


CATALOG: dict[str, WeightFile] = {}


def register(entry: WeightFile) -> WeightFile:
    """Add ``entry`` to :data:`CATALOG`; its ``name`` must not be registered yet."""
    if entry.name in CATALOG:
        raise ValueError(f"weight file {entry.name!r} registered twice")
    CATALOG[entry.name] = entry
    return entry


def get_weight_file(name: str) -> WeightFile:
    """Catalog entry by name (or by official file name)."""
    if name in CATALOG:
        return CATALOG[name]
    for entry in CATALOG.values():
        if name in entry.filenames:
            return entry
    raise WeightsError(f"unknown weight file {name!r}; known: {', '.join(sorted(CATALOG))}")


# --- entries -------------------------------------------------------------------------------
# (filled in by the metric work: torchvision AlexNet/VGG16, LPIPS linear layers, DISTS
#  alpha/beta, the FID Inception, PIM checkpoints)

# --- LPIPS / DISTS / torchvision backbones -------------------------------------------------
# torchvision names its files <arch>-<first 8 hex digits of the sha256>.pth; the full digests
# and sizes below are those of the files served at the URLs (independently recorded by many
# projects that pin them).  The LPIPS v0.1 linear layers are the files the ``lpips`` 0.1.4
# wheel ships (identical to richzhang/PerceptualSimilarity's); the DISTS alpha/beta file is
# the official ``DISTS_pytorch/weights.pt`` (also shipped, byte-identical, inside torchmetrics).

register(WeightFile(
    name="alexnet", filename="alexnet-owt-7be5be79.pth",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
    size=244_408_911,
    description="torchvision AlexNet, ImageNet (IMAGENET1K_V1): LPIPS trunk",
))
register(WeightFile(
    name="vgg16", filename="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
    size=553_433_881,
    description="torchvision VGG16, ImageNet (IMAGENET1K_V1): LPIPS-VGG and DISTS trunk",
))
register(WeightFile(
    name="lpips_v0.1_alex", filename="alex.pth",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
    sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    size=6_009,
    description="LPIPS v0.1 linear layers for AlexNet",
    package=("lpips", "weights/v0.1/alex.pth"),
))
register(WeightFile(
    name="lpips_v0.1_vgg", filename="vgg.pth",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
    sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    size=7_289,
    description="LPIPS v0.1 linear layers for VGG16",
    package=("lpips", "weights/v0.1/vgg.pth"),
))
register(WeightFile(
    name="dists_alpha_beta", filename="weights.pt",
    url="https://github.com/dingkeyan93/DISTS/raw/master/DISTS_pytorch/weights.pt",
    sha256="f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218",
    size=12_288,
    description="DISTS official alpha/beta weights",
    package=("torchmetrics", "functional/image/dists_models/weights.pt"),
))


# --- FID Inception / PIM -------------------------------------------------------------------
# The FID Inception (TF 2015-12-05 graph ported to PyTorch).  pytorch-fid and torch-fidelity
# publish the same bytes under two names (same sha256); evalkit looks for pytorch-fid's first
# (https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/ has the other name).
register(WeightFile(
    name="fid_inception", filename="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
    sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
    size=95628359,
    description="FID Inception v3 (pytorch-fid's port of TF's 2015-12-05 graph)",
    aliases=("weights-inception-2015-12-05-6726825d.pth",),  # torch-fidelity/torchmetrics' name
))
# PIM: the official archives (config.json + TensorFlow checkpoint; SHA-512 digests from the
# official perceptual_quality/pim/loader.py) and the PyTorch files `evalkit weights convert-pim`
# makes from them.  A converted file's digest cannot be known in advance (sha256=None); it
# records the SHA-512 of its source archive and whether that is the official digest, and the
# PIM metrics refuse files converted from other archives (unless EVALKIT_SKIP_WEIGHT_HASH=1).
for _pim, _sha512 in (
    ("pim-1", "436b4a95e667d8a4b6ee639f1d5d303585059b3f33075dbabbc9b1d0fb5008fa"
              "1509c046b80e2565c69e77f3ac396288eeb260cad8e316ea5c7e207b57ae68cb"),
    ("pim-5", "7939f9f9ed07650e9e290cac4e2cf559424795c26bb41f0641b7b77e93c96426"
              "8e5f4a8d6f0ba9a37d4407aef9973c04ee1dd88f1563643f0bc600a1a456aab3"),
):
    register(WeightFile(
        name=_pim, filename=f"{_pim}.zip",
        url=f"https://storage.googleapis.com/tensorflow_compression/pim/{_pim}.zip",
        sha256=None, size=None, sha512=_sha512, makes=(f"{_pim}-converted",),
        description=f"official {_pim.upper()} archive (TensorFlow checkpoint); "
                    f"convert with `evalkit weights convert-pim {_pim}.zip`",
    ))
    register(WeightFile(
        name=f"{_pim}-converted", filename=f"{_pim}.pt",
        url=f"https://storage.googleapis.com/tensorflow_compression/pim/{_pim}.zip",
        sha256=None, size=None,
        description=f"{_pim.upper()} converted to PyTorch: made locally by "
                    f"`evalkit weights convert-pim {_pim}.zip` (not downloadable as such)",
    ))
