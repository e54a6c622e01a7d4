"""End to end on real encodes: evaluate -> rd -> bd -> table -> ratecontrol through the CLI."""

from __future__ import annotations

from _evaluate_runs import make_layout

from evalkit.cli import main
from evalkit.evaluate import read_table


def test_evaluate_then_rd_bd_table_ratecontrol(tmp_path, capsys):
    refs_dir, runs_dir, _ = make_layout(tmp_path, codecs=(("jpeg", (15, 50, 85)),
                                                          ("webp", (15, 50, 85))))
    res = tmp_path / "out" / "results.csv"
    assert main(["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out", str(res),
                 "--metrics", "psnr,ms_ssim", "--cache", str(tmp_path / "c.sqlite"),
                 "--no-progress"]) == 0
    summary = read_table(tmp_path / "out" / "results.summary.csv")
    assert len(summary) == 6
    assert main(["rd", str(res), "--metric", "psnr", "--metric", "ms_ssim", "--ms-ssim-db",
                 "--out", str(tmp_path / "out" / "rd.png"), "--format", "png",
                 "--format", "pdf"]) == 0
    assert (tmp_path / "out" / "rd.png").is_file() and (tmp_path / "out" / "rd.pdf").is_file()
    capsys.readouterr()
    assert main(["bd", str(res), "--anchor", "jpeg", "--metric", "psnr", "--format", "csv",
                 "--min-overlap", "0"]) == 0
    line = capsys.readouterr().out.splitlines()[1].split(",")
    assert line[0] == "webp" and float(line[1]) < 0     # WebP beats JPEG on these photos
    assert main(["table", str(res), "--images", "coffee", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.count("| coffee |") == 6
    budget = float(summary[summary.codec == "webp"]["bpp_agg"].median())
    assert main(["ratecontrol", str(res), "--codec", "webp", "--budget-bpp", str(budget)]) == 0
    assert "psnr_agg" in capsys.readouterr().out
