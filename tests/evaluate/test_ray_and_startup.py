"""Ray backend (one small local cluster for the module) and a torch-free cached re-run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from evalkit.evaluate import evaluate

REPO = Path(__file__).resolve().parents[2]


def test_fully_cached_rerun_builds_no_model_and_imports_no_torch(layout, tmp_path):
    refs_dir, runs_dir, _ = layout
    cache = tmp_path / "c.sqlite"
    argv = ["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out",
            str(tmp_path / "r.csv"), "--metrics", "psnr,ms_ssim", "--cache", str(cache),
            "--no-progress"]
    from evalkit.cli import main

    assert main(argv) == 0
    script = textwrap.dedent(f"""
        import sys
        from evalkit.cli import main
        assert main({argv!r}) == 0
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, loaded[:5]
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 computed, 9 reused" in proc.stdout


def test_ray_missing_is_a_one_line_error_naming_the_extra(layout, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from evalkit.cli import main

    refs_dir, runs_dir, _ = layout
    rc = main(["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out",
               str(tmp_path / "r.csv"), "--no-cache", "--ray"])
    err = capsys.readouterr().err
    assert rc == 1 and "pip install 'evalkit[ray]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.csv").exists()


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    ray = pytest.importorskip("ray")
    os.environ.setdefault("PYTHONPATH", str(REPO))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(
                 [str(REPO), os.environ.get("PYTHONPATH", "")])}})
    yield ray
    ray.shutdown()


def test_ray_gives_the_local_results_and_resumes(ray_cluster, layout, tmp_path):
    """Same results table as the local engine; cached rows are not sent again."""
    refs_dir, runs_dir, _ = layout
    local = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=False, progress=False)
    cache = tmp_path / "c.sqlite"
    first = evaluate(refs_dir, runs_dir, ["psnr"], cache=cache, progress=False, ray="local",
                     ray_actors=2)
    pd.testing.assert_frame_equal(first.results, local.results.drop(columns=["ms_ssim"]))
    both = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=cache, progress=False,
                    ray="local", ray_actors=2)
    assert both.computed == 9  # ms_ssim was missing in every row; psnr came from the cache
    pd.testing.assert_frame_equal(both.results, local.results, rtol=1e-9)
    again = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=cache, progress=False,
                     ray="local")
    assert (again.reused, again.computed) == (9, 0)
