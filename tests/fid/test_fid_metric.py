"""The ``fid`` / ``kid`` set-level metrics end to end: real weight-loading path (random weights),
agreement with torchmetrics' Inception and metrics, the feature cache, and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.errors import ImagePairError, MetricError, WeightsError
from evalkit.metrics import build_metric, get_spec
from evalkit.metrics.patches import extract_set_patches

OFFICIAL_NAME = "pt_inception-2015-12-05-6726825d.pth"


def _nchw(patches: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(patches).permute(0, 3, 1, 2).contiguous()


def _torchmetrics_inception(weights, antialias: bool):
    from torchmetrics.image.fid import NoTrainInceptionV3

    return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                              feature_extractor_weights_path=str(weights), antialias=antialias)


class _Double(torch.nn.Module):
    """torchmetrics computes KID in the features' dtype: give it float64 like evalkit.  Outputs
    are memoised per input batch so torchmetrics' FID and KID share one forward per batch."""

    num_features = 2048

    def __init__(self, net):
        super().__init__()
        self.net = net
        self._memo: dict[bytes, torch.Tensor] = {}

    def forward(self, x):
        key = x.numpy().tobytes()
        if key not in self._memo:
            self._memo[key] = self.net(x).double()
        return self._memo[key]


def test_inception_features_match_torchmetrics_extractor(fid_env, photo_set):
    """Our FIDInceptionV3 and torchmetrics' NoTrainInceptionV3 (torch-fidelity) load the same
    file and give the same pool3 features, for both resize modes."""
    from evalkit.metrics.inception import load_fid_inception

    patches = _nchw(extract_set_patches(photo_set[0][:1]))
    with torch.no_grad():
        for resize, antialias in (("tf1", False), ("torch-antialias", True)):
            ours, path, _ = load_fid_inception(resize=resize)
            assert path == fid_env
            theirs = _torchmetrics_inception(fid_env, antialias)(patches)
            got = ours(patches)
            assert got.shape == (1, 2048) and got.abs().mean() > 1e-3
            torch.testing.assert_close(got, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_fid_and_kid_equal_torchmetrics(fid_env, photo_set):
    refs, dists = photo_set
    fid = get_spec("fid").build(progress=False)
    kid = get_spec("kid").build(progress=False)
    fid_value = fid(refs, dists)
    kid_value = kid(refs, dists)
    assert fid.last_result.n_ref == fid.last_result.n_dist == 3   # 1 + 2 patches
    assert kid.last_result.subset_size == 3                       # adapted from 1000

    net = _Double(_torchmetrics_inception(fid_env, antialias=False))
    real, fake = _nchw(extract_set_patches(refs)), _nchw(extract_set_patches(dists))
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    tm_kid = KernelInceptionDistance(feature=net, subsets=100, subset_size=3)
    tm_fid = FrechetInceptionDistance(feature=net)
    for tm in (tm_kid, tm_fid):
        tm.update(real, real=True)
        tm.update(fake, real=False)
    torch.manual_seed(0)
    tm_kid_mean = tm_kid.compute()[0].item()
    assert fid_value > 0
    # 3 patches per side: the 2048x2048 covariances have rank 2.  torchmetrics takes sqrt of
    # all 2048 eigenvalues of S1 S2 (general eig), so round-off in the ~2046 zero eigenvalues
    # adds ~sqrt(eps) each and biases its value down by ~4e-4 relative here; evalkit's
    # low-rank route (singular values of A B^T) has no such term.  Hence rel=2e-3, still far
    # tighter than any protocol error (ddof, patch set, resize) would produce.
    tm_fid_value = tm_fid.compute().item()
    assert fid_value == pytest.approx(tm_fid_value, rel=2e-3)
    assert fid_value >= tm_fid_value
    assert kid_value == pytest.approx(tm_kid_mean, rel=1e-5, abs=1e-9)


def test_identical_sets_give_zero(fid_env, photo_set):
    refs = photo_set[0][:1] + [photo_set[0][0][::-1].copy()]   # 2 patches
    value = build_metric("fid", progress=False)(refs, refs)
    assert value == pytest.approx(0.0, abs=1e-6)


def test_reference_features_cached_in_memory_and_on_disk(fid_env, photo_set, monkeypatch):
    from evalkit.metrics import fid as fid_mod

    refs = [photo_set[0][0], photo_set[0][0][:, ::-1].copy()]
    dists = [photo_set[1][0], photo_set[1][0][:, ::-1].copy()]
    calls = []
    real_images_features = fid_mod.images_features

    def counting(images, *args, **kwargs):
        calls.append(len(images))
        return real_images_features(images, *args, **kwargs)

    monkeypatch.setattr(fid_mod, "images_features", counting)
    metric = build_metric("fid", progress=False)
    first = metric(refs, dists)
    assert metric.extractor.last_cache == "computed" and len(calls) == 2
    cache_dir = metric.extractor.cache_dir
    files = sorted(cache_dir.glob("fid-*.npy"))
    assert len(files) == 1 and files[0].with_name(files[0].name + ".json").is_file()

    kid = build_metric("kid", progress=False)
    kid(refs, dists)                                   # same process: nothing recomputed
    assert kid.extractor.last_cache == "memory" and len(calls) == 2

    fid_mod._MEMORY.clear()                            # as in a new process
    fid_mod._REFERENCE_IMAGES.clear()
    again = build_metric("fid", progress=False)(refs, dists)
    assert metric.extractor.last_cache == "disk"
    assert calls == [2, 2, 2]                          # only the reconstructions recomputed
    assert again == first

    files[0].write_bytes(b"not an npy file")           # corrupt cache: ignored, recomputed
    fid_mod._MEMORY.clear()
    fid_mod._REFERENCE_IMAGES.clear()
    assert metric(refs, dists) == pytest.approx(first, rel=1e-12)
    assert metric.extractor.last_cache == "computed"
    assert np.load(files[0]).shape == (2, 2048)


def test_each_reference_image_goes_through_inception_once(fid_env, photo_set, monkeypatch):
    """Settings with different subsets of the same references (a setting missing an image, a
    codec scored on fewer images) reuse each reference image's features: Inception sees every
    reference once, and the values equal a fresh computation."""
    from evalkit.metrics import fid as fid_mod

    refs, dists = photo_set
    flipped = [r[:, ::-1].copy() for r in refs]
    seen: list[int] = []
    real_images_features = fid_mod.images_features

    def counting(images, *args, **kwargs):
        seen.extend(id(im) for im in images)
        return real_images_features(images, *args, **kwargs)

    monkeypatch.setattr(fid_mod, "images_features", counting)
    metric = build_metric("fid", progress=False, disk_cache=False)
    all3 = [refs[0], refs[1], flipped[0]]
    # setting 1: all three references; setting 2: two of them, in another order; setting 3: one
    v1 = metric(all3, [dists[0], dists[1], flipped[1][:256, :256].copy()])
    v2 = metric([flipped[0], refs[0]], [dists[0], dists[0]])
    v3 = metric([refs[1]], [dists[1]])
    ref_ids = {id(r) for r in all3}
    assert sorted(i for i in seen if i in ref_ids) == sorted(ref_ids)  # each reference once
    fid_mod._MEMORY.clear()
    fid_mod._REFERENCE_IMAGES.clear()
    fresh = build_metric("fid", progress=False, disk_cache=False)
    assert fresh([flipped[0], refs[0]], [dists[0], dists[0]]) == pytest.approx(v2, rel=1e-6)
    assert fresh([refs[1]], [dists[1]]) == pytest.approx(v3, rel=1e-6)
    assert np.isfinite(v1)


def test_cache_key_covers_protocol_and_weights(fid_env):
    from evalkit.metrics.fid import PatchFeatures
    from evalkit.metrics.fid_cache import feature_key

    a = PatchFeatures(progress=False)
    b = PatchFeatures(resize="torch-antialias", progress=False)
    keys = {feature_key("p", a.protocol()), feature_key("p", b.protocol()),
            feature_key("q", a.protocol()),
            feature_key("p", {**a.protocol(), "weights_sha256": "0" * 64})}
    assert len(keys) == 4
    assert a.protocol()["weights_sha256"] == a.weights_sha256 and len(a.weights_sha256) == 64


def test_missing_weights_is_a_clear_error(empty_weights_env):
    with pytest.raises(WeightsError, match=OFFICIAL_NAME) as err:
        get_spec("fid").build(progress=False)
    assert "pytorch-fid/releases" in str(err.value) and "weights-inception" in str(err.value)


def test_torch_fidelity_file_name_is_accepted(_inception_file, empty_weights_env, monkeypatch,
                                              tmp_path):
    import os

    hub = tmp_path / "empty_torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    os.symlink(_inception_file, hub / "weights-inception-2015-12-05-6726825d.pth")
    monkeypatch.setenv("EVALKIT_SKIP_WEIGHT_HASH", "1")
    metric = get_spec("kid").build(progress=False)
    assert metric.extractor.weights_path.name == "weights-inception-2015-12-05-6726825d.pth"


def test_wrong_files_are_weights_errors(_inception_file, empty_weights_env, monkeypatch):
    empty_weights_env.mkdir()
    target = empty_weights_env / OFFICIAL_NAME
    target.write_bytes(_inception_file.read_bytes())
    with pytest.raises(WeightsError, match="does not match"):   # hash checked: random weights
        get_spec("fid").build(progress=False)
    monkeypatch.setenv("EVALKIT_SKIP_WEIGHT_HASH", "1")
    torch.save({"conv.weight": torch.zeros(1)}, target)
    with pytest.raises(WeightsError, match="not the FID Inception"):
        get_spec("fid").build(progress=False)


def test_input_errors(fid_env, photo_set):
    refs, dists = photo_set
    metric = build_metric("fid", progress=False)
    with pytest.raises(ImagePairError, match="pair up"):
        metric(refs, dists[:1])
    with pytest.raises(ImagePairError, match="shapes differ"):
        metric(refs, [dists[1], dists[0]])
    with pytest.raises(MetricError, match="uint8"):
        metric([refs[0].astype(np.float32)], [dists[0]])
    small = [refs[0][:200, :200]]
    with pytest.raises(MetricError, match="no 256x256 patch"):
        metric(small, small)
    with pytest.raises(MetricError, match="at least one image"):
        metric([], [])
    with pytest.raises(MetricError, match="unknown option"):
        get_spec("fid").build(subsets=3)
    with pytest.raises(MetricError, match="resize must be"):
        get_spec("kid").build(resize="bicubic")
