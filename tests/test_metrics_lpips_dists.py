"""LPIPS and DISTS through evalkit's real weight-loading path equal the reference packages
given the same (randomly initialised) backbones and the official linear / alpha-beta files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from evalkit.errors import MetricError, WeightsError
from evalkit.metrics import build_metric, compute_batch, compute_pair, get_spec
from evalkit.weights import resolve


def _t01(img: np.ndarray) -> torch.Tensor:
    """uint8 HWC -> float (1, 3, H, W) in [0, 1], the reference packages' input."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0


def _reference_lpips(net: str):
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pnet_rand=False: the package loads torchvision's ImageNet file itself, from the hub
        # cache ($TORCH_HOME), i.e. our random backbone; linear layers: its own official copy.
        return lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=False,
                           verbose=False).eval()


@pytest.mark.parametrize("name, net", [("lpips", "alex"), ("lpips_vgg", "vgg")])
def test_lpips_equals_lpips_package(random_weights_dir, skip_random_init, photo_pair, name, net):
    ref, dist = photo_pair
    ours = compute_pair(ref, dist, [name])[name]
    with torch.no_grad():
        # the reference takes [-1, 1]; normalize=True maps [0, 1] -> [-1, 1] inside.
        theirs = _reference_lpips(net)(_t01(ref), _t01(dist), normalize=True).item()
    assert ours > 0
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-7)
    # identical images are at distance 0
    assert compute_pair(ref, ref, [name])[name] == pytest.approx(0.0, abs=1e-7)


def test_lpips_uses_the_resolved_backbone(random_weights_dir, photo_pair, tmp_path):
    """A different backbone file (explicit path) must change the value: the weights are really
    loaded from the resolved file, not from a cache or the network."""
    from torchvision import models

    torch.manual_seed(7)
    other = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(models.alexnet(weights=None).state_dict(), other)
    ref, dist = photo_pair
    a = compute_batch(ref, dist, "lpips")[0]
    b = compute_batch(ref, dist, "lpips", backbone_path=other)[0]
    assert a != pytest.approx(b, rel=1e-3)


def test_lpips_batch_matches_single_pairs(random_weights_dir, photo_pair, photo):
    ref, dist = photo_pair
    flipped = photo[:, ::-1].copy()
    batch = compute_batch(np.stack([ref, ref]), np.stack([dist, flipped]), "lpips")
    assert batch.shape == (2,)
    assert batch[0] == pytest.approx(compute_pair(ref, dist, ["lpips"])["lpips"], rel=1e-5)
    assert batch[1] == pytest.approx(compute_pair(ref, flipped, ["lpips"])["lpips"], rel=1e-5)


def test_lpips_model_keeps_no_gradients_and_is_built_once(random_weights_dir):
    m = build_metric("lpips")
    assert build_metric("lpips") is m
    assert not any(p.requires_grad for p in m.parameters())
    x = torch.full((1, 3, 40, 40), 100.0, requires_grad=True)
    out = m(x, x.detach() + 1)
    assert not out.requires_grad


def test_lpips_too_small_image_is_a_clear_error(random_weights_dir):
    tiny = np.zeros((20, 40, 3), np.uint8)
    with pytest.raises(MetricError, match="at least 31 px, got 40x20"):
        compute_pair(tiny, tiny, ["lpips"])


def test_lpips_rejects_a_wrong_backbone_file(random_weights_dir, tmp_path):
    from torchvision import models

    wrong = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(models.squeezenet1_1(weights=None).state_dict(), wrong)
    with pytest.raises(WeightsError, match="not a torchvision alexnet state dict"):
        get_spec("lpips").build(backbone_path=wrong)


def test_lpips_rejects_wrong_linear_layers(random_weights_dir):
    vgg_lin = resolve("lpips_v0.1_vgg")
    with pytest.raises(WeightsError, match="not an LPIPS v0.1 linear-layer file"):
        get_spec("lpips").build(linear_path=vgg_lin)


def test_corrupt_weight_file_is_a_weights_error(random_weights_dir, tmp_path):
    bad = tmp_path / "alexnet-owt-7be5be79.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="cannot load weight file"):
        get_spec("lpips").build(backbone_path=bad)


# --- DISTS -------------------------------------------------------------------------------------

def _official_alpha_beta():
    return torch.load(str(resolve("dists_alpha_beta")), map_location="cpu", weights_only=True)


def _assert_dists_close(ours: float, model: torch.nn.Module, ref, dist) -> None:
    """evalkit equals the reference network run in float64 to 1e-5 relative, and the same
    network in float32 to its own rounding: its last step, ``1 - sum(alpha*S1 + beta*S2)``
    in float32, cancels to a few float32 ulps of 1 (6e-8 each; measured 1e-4 relative error
    against its own float64 result at DISTS ~ 0.0014).  evalkit sums in float64."""
    with torch.no_grad():
        theirs32 = model(_t01(ref), _t01(dist)).item()
        theirs64 = model.double()(_t01(ref).double(), _t01(dist).double()).item()
    model.float()
    assert ours == pytest.approx(theirs64, rel=1e-5, abs=1e-9)
    assert ours == pytest.approx(theirs32, rel=1e-5, abs=5e-7)


def test_dists_equals_official_dists_pytorch_without_resizing(random_weights_dir, skip_random_init,
                                                              photo_pair,
                                                              astronaut):
    """Equal to the official network; above 256 px (where the official demo and piq resize)
    evalkit still scores the full-resolution pixels, so it equals the official network
    applied to the unresized images."""
    from DISTS_pytorch import DISTS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = DISTS(load_weights=False)  # VGG16 from the hub cache = our random backbone
    weights = _official_alpha_beta()
    model.alpha.data, model.beta.data = weights["alpha"], weights["beta"]
    big = astronaut[:272, :264].copy()
    big_dist = np.clip(big.astype(int) + 20, 0, 255).astype(np.uint8)
    for ref, dist in (photo_pair, (big, big_dist)):
        ours = compute_pair(ref, dist, ["dists"])["dists"]
        assert 0 < ours < 1
        _assert_dists_close(ours, model, ref, dist)


def test_dists_equals_torchmetrics(random_weights_dir, skip_random_init, photo_pair):
    from torchmetrics.functional.image.dists import DISTSNetwork

    ref, dist = photo_pair
    net = DISTSNetwork(load_weights=True).eval()  # its shipped copy of the official weights.pt
    ours = compute_pair(ref, dist, ["dists"])["dists"]
    _assert_dists_close(ours, net, ref, dist)


def test_dists_equals_piq_below_its_resize_threshold(random_weights_dir, skip_random_init,
                                                     photo_pair):
    """piq downloads its own copy of the alpha/beta file into the hub cache; give it the
    official file under that name.  (piq shrinks images > 256 px, so only small ones agree.)"""
    import os

    import piq

    hub = os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints")
    torch.save(_official_alpha_beta(), os.path.join(hub, "dists_weights.pt"))
    ref, dist = photo_pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = piq.DISTS(reduction="none")(_t01(dist), _t01(ref)).item()
    ours = compute_pair(ref, dist, ["dists"])["dists"]
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6)


def test_dists_identical_images_score_zero(random_weights_dir, photo):
    assert compute_pair(photo, photo, ["dists"])["dists"] == pytest.approx(0.0, abs=1e-6)


def test_dists_rejects_a_file_without_alpha_beta(random_weights_dir, tmp_path):
    bad = tmp_path / "weights.pt"
    torch.save({"alpha": torch.zeros(1, 10, 1, 1)}, bad)
    with pytest.raises(WeightsError, match="'alpha' of shape"):
        get_spec("dists").build(weights_path=bad)


# --- missing weights: the clear message, no download ----------------------------------------

@pytest.mark.parametrize("name, filename, url", [
    ("lpips", "alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    ("lpips_vgg", "vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
    ("dists", "vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
])
def test_missing_backbone_names_file_url_and_directory(empty_weights_env, photo, name,
                                                       filename, url):
    with pytest.raises(WeightsError) as info:
        compute_pair(photo, photo, [name])
    msg = str(info.value)
    assert filename in msg and url in msg and str(empty_weights_env) in msg
    assert "\n" not in msg


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "crop_of_channels_last"])
def test_dists_shifted_sums_match_float64(layout, monkeypatch):
    """DISTS's blocked per-channel sums equal float64 sums in every memory layout the trunk
    gives (blocks smaller than a channel, and than all channels, both exercised)."""
    from evalkit.metrics import dists as dists_module

    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 6, 37, 29, generator=g) * 3
    x = torch.rand(1, 6, 37, 29, generator=g) * 3
    if layout != "nchw":
        y = y.contiguous(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if layout == "crop_of_channels_last":
        y, x = y[:, :, 3:30, 2:21], x[:, :, 3:30, 2:21]
    shift = x.mean((2, 3))
    xc = x - shift[:, :, None, None]
    d = y.double() - shift.double()[:, :, None, None]
    for block in (50, 500, 1 << 19):
        monkeypatch.setattr(dists_module, "_BLOCK", block)
        s1, s2, s3 = dists_module._shifted_sums(y, shift, xc)
        np.testing.assert_allclose(s1, d.sum((2, 3)), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(s2, (d * d).sum((2, 3)), rtol=1e-12)
        np.testing.assert_allclose(s3, (d * xc.double()).sum((2, 3)), rtol=1e-12, atol=1e-9)
