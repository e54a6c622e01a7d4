"""Conversion of archives in the official layout, loading, and the metrics built from them."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from pim_layout import SUFFIX, official_config, official_variables, write_official_zip

from evalkit.errors import WeightsError
from evalkit.metrics.registry import get_spec
from evalkit.pim.convert import convert_archive, load_converted


def _expected_torch(variables: dict, nmix: int) -> dict[str, np.ndarray]:
    """The state dict the conversion must produce, derived independently from the spec."""
    out = {}
    for i in range(8):
        for j in range(4):
            base = f"frontend/cnns/{i}/layer_with_weights-{j}"
            out[f"cnns.{i}.{2 * j}.weight"] = np.transpose(variables[f"{base}/kernel{SUFFIX}"], (3, 2, 0, 1))
            out[f"cnns.{i}.{2 * j}.bias"] = variables[f"{base}/bias{SUFFIX}"]
        enc = f"marginal_encoder/encoders/{i}"
        names = [("base", f"base/{k}", 2 * k) for k in range(2)]
        if nmix > 1:
            names += [("mix", f"mix/{k}", 2 * k) for k in range(2)] + [("logit", "logit_layer", None)]
        for branch, var, idx in names:
            key = f"encoders.{i}.{branch}" + ("" if idx is None else f".{idx}")
            out[f"{key}.weight"] = variables[f"{enc}/{var}/kernel{SUFFIX}"].T[:, :, None, None]
            out[f"{key}.bias"] = variables[f"{enc}/{var}/bias{SUFFIX}"]
    return out


@pytest.mark.parametrize("which", ["pim1_archive", "pim5_archive"])
def test_round_trip_official_layout(which, request, tmp_path, skip_hash):
    archive, variables = request.getfixturevalue(which)
    nmix = 1 if which == "pim1_archive" else 5
    out = convert_archive(archive, tmp_path)
    assert out == tmp_path / f"pim-{nmix}.pt"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp files left
    model, meta = load_converted(out, expect_name=f"pim-{nmix}")
    assert meta["source"]["official"] is False and len(meta["source"]["sha512"]) == 128
    assert meta["config"] == official_config(nmix)
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in meta["ignored_checkpoint_keys"]
    assert all(k.startswith(("joint_encoder/", "_CHECKPOINTABLE")) for k in meta["ignored_checkpoint_keys"])
    state = model.state_dict()
    expected = _expected_torch(variables, nmix)
    assert set(state) == set(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(state[k].numpy(), v, err_msg=k)
    with torch.no_grad():  # the loaded model runs on an odd-sized image
        enc = model(torch.rand(1, 3, 17, 23))
    assert [tuple(m.shape[-2:]) for m, _ in enc][0] == (3, 3)


def test_non_official_archive_refused_without_skip(pim1_archive, tmp_path, monkeypatch):
    monkeypatch.delenv("EVALKIT_SKIP_WEIGHT_HASH", raising=False)
    with pytest.raises(WeightsError, match="sha512 does not match the official pim-1.zip"):
        convert_archive(pim1_archive[0], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_variable_and_wrong_layouts(tmp_path, skip_hash):
    variables = official_variables(1, seed=2)
    dropped = f"marginal_encoder/encoders/3/base/1/kernel{SUFFIX}"
    bad = write_official_zip(tmp_path / "pim-1.zip", "pim-1", variables, official_config(1), drop=(dropped,))
    out = tmp_path / "out"
    with pytest.raises(WeightsError, match="encoders/3/base/1/kernel"):
        convert_archive(bad, out)
    assert not out.exists() or not any(out.iterdir())
    # pim-1 folder holding a 5-mixture config
    wrong = write_official_zip(tmp_path / "w.zip", "pim-1", official_variables(5), official_config(5))
    with pytest.raises(WeightsError, match="num_marginal_encoder_mixtures=1"):
        convert_archive(wrong, out)
    other = write_official_zip(tmp_path / "o.zip", "pim-7", variables, official_config(1))
    with pytest.raises(WeightsError, match="must be one of"):
        convert_archive(other, out)
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("pim-1/config.json", "{}")
    with pytest.raises(WeightsError, match="weights.index"):
        convert_archive(tmp_path / "empty.zip", out)
    (tmp_path / "notzip.zip").write_bytes(b"hello")
    with pytest.raises(WeightsError, match="must be a zip"):
        convert_archive(tmp_path / "notzip.zip", out)


def test_loader_refuses_foreign_and_non_official_files(pim1_archive, tmp_path, monkeypatch, skip_hash):
    fake = tmp_path / "pim-1.pt"
    fake.write_bytes(pim1_archive[0].read_bytes())  # the raw archive under the .pt name
    with pytest.raises(WeightsError, match="convert-pim"):
        load_converted(fake)
    out = convert_archive(pim1_archive[0], tmp_path / "w")
    with pytest.raises(WeightsError, match="must hold pim-5"):
        load_converted(out, expect_name="pim-5")
    monkeypatch.delenv("EVALKIT_SKIP_WEIGHT_HASH")
    with pytest.raises(WeightsError, match="non-official archive"):
        load_converted(out)


def test_missing_weights_message(empty_weights_env):
    for metric, name in (("pim", "pim-1"), ("pim5", "pim-5")):
        with pytest.raises(WeightsError) as info:
            get_spec(metric).build(device="cpu")
        msg = str(info.value)
        assert f"{name}.pt" in msg and f"evalkit weights convert-pim {name}.zip" in msg
        assert f"evalkit weights fetch {name}" in msg and str(empty_weights_env) in msg


def test_metrics_from_converted_weights(pim1_archive, pim5_archive, tmp_path, monkeypatch,
                                        skip_hash, fresh_metric_cache, photo_pair):
    """Registry path: convert into $EVALKIT_WEIGHTS_DIR, build via resolve, compute on [0, 255]
    tensors; symmetry (PIM-1), zero for identical images, PIM-5 repeatable."""
    from evalkit.metrics import compute_batch

    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", str(tmp_path))
    convert_archive(pim1_archive[0])
    convert_archive(pim5_archive[0])
    ref, dist = (a[:24, :40] for a in photo_pair)
    d = compute_batch(ref, dist, "pim")
    assert d.shape == (1,) and d[0] > 0
    assert compute_batch(dist, ref, "pim")[0] == d[0]
    assert compute_batch(ref, ref, "pim")[0] == 0.0
    p5 = compute_batch(np.stack([ref, dist]), np.stack([dist, dist]), "pim5")
    assert p5[1] == 0.0 and p5[0] != 0.0
    assert compute_batch(ref, dist, "pim5")[0] == p5[0]


def test_converted_pim1_matches_independent_float64_reference(tmp_path, skip_hash, photo_pair):
    """End to end against pim_reference.py: official-layout arrays -> zip -> convert -> load ->
    PIM-1 metric on [0, 255] tensors, vs SciPy float64 on the raw TF-layout arrays."""
    from pim_reference import reference_pim1

    from evalkit.pim.metric import build_pim

    filters = (6, 5, 4, 3)
    variables = official_variables(1, seed=8, num_filters=filters)
    for k in variables:  # positive-leaning biases so that ReLUs stay partly active
        if k.endswith(f"bias{SUFFIX}"):
            variables[k] = np.abs(variables[k]) + np.float32(0.05)
    archive = write_official_zip(tmp_path / "pim-1.zip", "pim-1", variables,
                                 official_config(1, num_filters=filters))
    out = convert_archive(archive, tmp_path / "w")
    metric = build_pim("pim-1", weights_path=out)
    ref, dist = (a[:19, :26] for a in photo_pair)
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float()  # noqa: E731
    ours = metric(to_t(ref), to_t(dist)).item()
    expected = reference_pim1(ref.transpose(2, 0, 1) / 255.0, dist.transpose(2, 0, 1) / 255.0, variables)
    assert expected > 0
    assert ours == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_converted_pim5_encoder_matches_independent_reference(pim5_archive, tmp_path, skip_hash):
    """The mixture encoder (means channel layout, mixing branch, logits) of a converted PIM-5
    checkpoint against NumPy on the raw TF-layout arrays."""
    from pim_reference import reference_mixture_encoder

    archive, variables = pim5_archive
    model, _ = load_converted(convert_archive(archive, tmp_path))
    f = torch.rand(1, 3, 7, 9) * 4
    for level in (0, 7):
        means, logits = model.encoders[level](f)
        ref_means, ref_logits = reference_mixture_encoder(f[0].double().numpy(), variables, level)
        assert (ref_means > 0).mean() > 0.1  # the ReLUs leave a real signal
        np.testing.assert_allclose(means[0].detach().numpy(), ref_means, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(logits[0].detach().numpy(), ref_logits, rtol=1e-4, atol=1e-5)
