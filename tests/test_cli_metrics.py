"""``evalkit metrics``: values, JSON, --list, exit codes and one-line errors."""

from __future__ import annotations

import json
import math

import pytest

from evalkit.cli import main
from evalkit.metrics import compute_pair


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_json_output_equals_library(pair_files, photo_pair, capsys):
    ref, dist = pair_files
    assert main(["metrics", str(ref), str(dist), "--metrics", "psnr,ssim", "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert list(values) == ["psnr", "ssim"]
    assert values == pytest.approx(compute_pair(*photo_pair, ["psnr", "ssim"]))


def test_default_metrics_on_a_large_pair(save_png, tmp_path, large_pair, capsys):
    ref = save_png(tmp_path / "r.png", large_pair[0])
    dist = save_png(tmp_path / "d.png", large_pair[1])
    assert main(["metrics", str(ref), str(dist), "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert list(values) == ["psnr", "ssim", "ms_ssim"]
    assert values == pytest.approx(compute_pair(*large_pair, ["psnr", "ssim", "ms_ssim"]))


def test_selected_metrics_text_output(pair_files, photo_pair, capsys):
    ref, dist = pair_files
    assert main(["metrics", str(ref), str(dist), "--metrics", "psnr,ssim"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["psnr", "ssim"]
    assert float(lines[0].split()[1]) == pytest.approx(compute_pair(*photo_pair, ["psnr"])["psnr"],
                                                       abs=1e-6)
    assert lines[0].endswith("dB")


def test_identical_images_psnr_inf_is_valid_json(pair_files, capsys):
    ref, _ = pair_files
    assert main(["metrics", str(ref), str(ref), "--metrics", "psnr,ssim", "--json"]) == 0
    out = capsys.readouterr().out
    values = json.loads(out)  # strict JSON: no bare Infinity
    assert "Infinity" not in out
    assert values["psnr"] == "inf" and float(values["psnr"]) == math.inf
    assert values["ssim"] == pytest.approx(1.0)


def test_list_shows_the_registry(capsys):
    assert main(["metrics", "--list"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()[1:]}
    for name in ("psnr", "ssim", "ms_ssim", "lpips", "lpips_vgg", "dists"):
        assert name in rows
    assert rows["psnr"][2] == "higher" and rows["lpips"][2] == "lower"
    assert "alexnet,lpips_v0.1_alex" in rows["lpips"]


def test_size_mismatch_exit_1_with_both_sizes(save_png, tmp_path, photo, capsys):
    a = save_png(tmp_path / "a.png", photo)
    b = save_png(tmp_path / "b.png", photo[:50, :60])
    assert main(["metrics", str(a), str(b)]) == 1
    err = _err_line(capsys)
    assert err.startswith("evalkit metrics: error:") and "80x64" in err and "60x50" in err


def test_unreadable_file_exit_1(tmp_path, pair_files, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert main(["metrics", str(pair_files[0]), str(bad)]) == 1
    assert "bad.png" in _err_line(capsys)


def test_unknown_metric_exit_1(pair_files, capsys):
    assert main(["metrics", *map(str, pair_files), "--metrics", "psnr,vmaf"]) == 1
    assert "unknown metric 'vmaf'" in _err_line(capsys)


def test_small_image_ms_ssim_exit_1(pair_files, capsys):
    assert main(["metrics", *map(str, pair_files), "--metrics", "ms_ssim"]) == 1
    assert "at least 161 px" in _err_line(capsys)


def test_missing_arguments_exit_1(capsys):
    assert main(["metrics"]) == 1
    assert "REF DIST" in _err_line(capsys)


def test_missing_weights_exit_1_naming_file_and_url(pair_files, empty_weights_env, capsys):
    assert main(["metrics", *map(str, pair_files), "--metrics", "lpips"]) == 1
    err = _err_line(capsys)
    assert "alexnet-owt-7be5be79.pth" in err
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in err
    assert str(empty_weights_env) in err


def test_lpips_and_dists_through_the_cli(pair_files, photo_pair, random_weights_dir, capsys):
    assert main(["metrics", *map(str, pair_files), "--metrics", "lpips,dists", "--json",
                 "--device", "cpu"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values == pytest.approx(compute_pair(*photo_pair, ["lpips", "dists"]))
