"""The reference-major engine gives the pair API's values, for every pair metric."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalkit.evaluate import evaluate
from evalkit.evaluate.engine import Engine, batch_size_for
from evalkit.evaluate.plan import plan_groups
from evalkit.images import load_pair
from evalkit.layout import discover_runs
from evalkit.metrics import compute_pair, list_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pim"))
from pim_layout import official_config, official_variables, write_official_zip  # noqa: E402

PAIR_METRICS = [s.name for s in list_metrics("pair")]


@pytest.fixture
def all_weights(random_weights_dir, tmp_path, monkeypatch):
    """Random backbones (conftest) plus random PIM-1/PIM-5 converted into a weights folder."""
    from evalkit.pim.convert import convert_archive

    wdir = tmp_path / "weights"
    wdir.mkdir()
    for name in random_weights_dir.iterdir():
        (wdir / name.name).symlink_to(name)
    for n, name in ((1, "pim-1"), (5, "pim-5")):
        zp = write_official_zip(tmp_path / f"{name}.zip", name, official_variables(n, seed=n),
                                official_config(n))
        convert_archive(zp, wdir)
    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", str(wdir))
    return wdir


def _layout(root: Path, sizes) -> tuple[Path, Path]:
    """Photo crops of the given (height, width), each with JPEG q10/q60 and a noisy PNG."""
    from skimage import data

    refs, runs = root / "refs", root / "runs"
    refs.mkdir()
    for k, (h, w) in enumerate(sizes):
        src = [data.astronaut(), data.chelsea(), data.coffee()][k % 3]
        img = np.ascontiguousarray(src[100:100 + h, 100:100 + w])
        name = f"img{k}_{w}x{h}"
        Image.fromarray(img).save(refs / f"{name}.png")
        for q in (10, 60):
            d = runs / "jpeg" / f"q{q}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{name}.jpg", "JPEG", quality=q)
        d = runs / "noisy" / "s1"
        d.mkdir(parents=True, exist_ok=True)
        noisy = np.clip(img.astype(int) + np.random.default_rng(k).integers(-9, 10, img.shape),
                        0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(d / f"{name}.png")
        with (d / "manifest.csv").open("a") as fh:
            fh.write(("image,bytes\n" if k == 0 else "") + f"{name},1000\n")
    return refs, runs


def _engine_vs_pairs(refs: Path, runs: Path, metrics: list[str], batch: int) -> None:
    entries, _ = discover_runs(refs, runs)
    groups = plan_groups(entries, {i: metrics for i in range(len(entries))})
    assert all(len(g.jobs) == 3 for g in groups)
    engine = Engine("cpu", batch_size=batch, workers=1)
    rows = {r.index: r for g in groups for r in engine.score_group(g)}
    assert sorted(rows) == list(range(len(entries)))
    for i, e in enumerate(entries):
        ref, dist = load_pair(e.reference, e.reconstruction)
        direct = compute_pair(ref, dist, metrics)
        assert rows[i].size == (ref.shape[1], ref.shape[0])
        for name in metrics:
            assert rows[i].values[name] == pytest.approx(direct[name], rel=1e-6, abs=1e-9), \
                (name, e.reconstruction)


def test_engine_equals_pair_by_pair_for_pixel_and_cnn_metrics(random_weights_dir, tmp_path):
    """Batches of 2 (+ a remainder of 1) equal compute_pair's values to 1e-6 relative, at an
    odd size (MS-SSIM needs a short side above 160 px; even sizes: the runner tests)."""
    refs, runs = _layout(tmp_path, [(163, 171)])
    _engine_vs_pairs(refs, runs, ["psnr", "ssim", "ms_ssim", "lpips", "lpips_vgg", "dists"], 2)


def test_engine_equals_pair_by_pair_for_pim(all_weights, tmp_path):
    """PIM-1 and PIM-5 (random checkpoints) on small odd-sized images, with LPIPS beside them."""
    refs, runs = _layout(tmp_path, [(33, 45)])
    assert {"pim", "pim5"} <= set(PAIR_METRICS)
    _engine_vs_pairs(refs, runs, ["pim", "pim5", "lpips"], 2)


def test_evaluate_batch_sizes_agree_and_commit_every_row(layout, tmp_path):
    refs_dir, runs_dir, _ = layout
    one = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=tmp_path / "a.sqlite",
                   progress=False, batch_size=1, device="cpu")
    many = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=tmp_path / "b.sqlite",
                    progress=False, batch_size=8, device="auto")
    np.testing.assert_allclose(one.results["ms_ssim"], many.results["ms_ssim"], rtol=1e-6)
    assert (one.results["psnr"] == many.results["psnr"]).all()
    again = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=tmp_path / "b.sqlite",
                     progress=False)
    assert (again.reused, again.computed) == (9, 0)


def test_auto_batch_size_follows_image_size():
    assert batch_size_for(768 * 512, None) == 8
    assert batch_size_for(2048 * 1365, None) == 1
    assert batch_size_for(2048 * 1365, 4) == 4


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu"])
def test_bad_device_is_a_one_line_error(layout, tmp_path, bad, capsys):
    from evalkit.cli import main

    refs_dir, runs_dir, _ = layout
    rc = main(["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out",
               str(tmp_path / "r.csv"), "--no-cache", "--device", bad])
    err = capsys.readouterr().err
    assert rc == 1 and "device must be" in err and bad in err
    assert not (tmp_path / "r.csv").exists()


def test_bad_batch_size_is_a_one_line_error(layout, tmp_path, capsys):
    from evalkit.cli import main

    refs_dir, runs_dir, _ = layout
    rc = main(["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out",
               str(tmp_path / "r.csv"), "--no-cache", "--batch-size", "0"])
    assert rc == 1 and "batch size must be a positive integer" in capsys.readouterr().err


def test_cuda_without_a_gpu_is_a_clear_error():
    import torch

    from evalkit.errors import MetricError
    from evalkit.metrics.devices import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(MetricError, match="no CUDA GPU"):
        resolve_device("cuda:0")
    assert resolve_device("auto") == "cpu"


@pytest.mark.gpu
def test_engine_on_gpu_equals_cpu(layout):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    refs_dir, runs_dir, _ = layout
    cpu = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=False, progress=False,
                   device="cpu")
    gpu = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=False, progress=False,
                   device="cuda")
    np.testing.assert_allclose(cpu.results["psnr"], gpu.results["psnr"], rtol=1e-9)
    np.testing.assert_allclose(cpu.results["ms_ssim"], gpu.results["ms_ssim"], rtol=1e-5)
