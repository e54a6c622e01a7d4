"""The metric registry is the one torch-free source of metric facts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from evalkit.metrics.registry import REGISTRY, get_spec

REPO = Path(__file__).resolve().parents[1]


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False,
                          capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_fact_tools_never_import_torch(tmp_path):
    """bd, table, ratecontrol, rd and report (and the registry) run without importing torch."""
    import numpy as np

    sys.path.insert(0, str(REPO / "tests" / "rd"))
    from _rd_tables import results_table

    sys.path.pop(0)
    results_table({"jpeg": 1.0, "mine": 0.8}).to_csv(tmp_path / "r.csv", index=False)
    rng = np.random.default_rng(0)
    rows = ["methodA,methodB,originalName,answerValue"]
    for i in range(40):
        a, b = ("jpeg/s1", "mine/s1") if i % 2 else ("mine/s1", "jpeg/s1")
        rows.append(f"{a},{b},img_{'ab'[i % 2]},{'A' if rng.random() < 0.7 else 'B'}")
    (tmp_path / "v.csv").write_text("\n".join(rows) + "\n")
    proc = _run("""
        import sys
        import evalkit.metrics
        from evalkit.cli import main
        assert [s.name for s in evalkit.metrics.list_metrics()][:3] == ["psnr", "ssim", "ms_ssim"]
        assert main(["metrics", "--list"]) == 0
        assert main(["bd", "r.csv", "--anchor", "jpeg", "--metric", "psnr"]) == 0
        assert main(["table", "r.csv"]) == 0
        assert main(["ratecontrol", "r.csv", "--codec", "mine", "--budget-bpp", "1.0"]) == 0
        assert main(["rd", "r.csv", "--metric", "psnr", "--metric", "lpips", "--out", "rd.png"]) == 0
        assert main(["report", "v.csv", "--answer-a", "A", "--answer-b", "B",
                     "--results", "r.csv", "--out", "rep",
                     "--bootstrap", "5"]) == 0
        bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print("TORCH", bad[:5])
        assert not bad
    """, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_every_metric_has_facts_and_a_lazy_builder():
    # evalkit's own metrics (other tests register throw-away metrics with callable builders)
    builtin = ("psnr", "ssim", "ms_ssim", "lpips", "lpips_vgg", "dists", "fid", "kid", "pim",
               "pim5")
    assert set(builtin) <= set(REGISTRY)
    for spec in (REGISTRY[n] for n in builtin):
        assert spec.kind in ("pair", "set") and spec.version and spec.display
        assert isinstance(spec.builder, str) and ":" in spec.builder
        assert callable(spec.builder_function()), spec.name
    assert get_spec("psnr").unit == "dB" and get_spec("ms_ssim").display == "MS-SSIM"


def test_versions_follow_the_code_that_computes_them():
    from evalkit.metrics import fid
    from evalkit.pim.convert import FORMAT_VERSION

    assert get_spec("pim").version == f"evalkit-pim-v{FORMAT_VERSION}"
    assert get_spec("fid").version.startswith(f"{fid.FEATURES_VERSION}+tfid")


def test_weight_catalog_reads_its_metrics_from_the_registry():
    from evalkit.weights import CATALOG

    assert CATALOG["vgg16"].needed_by == ("lpips_vgg", "dists")
    assert CATALOG["pim-1"].needed_by == ("pim",)  # the archive the converted file is made from


def test_weight_digest_is_computed_once_per_file_version(tmp_path, monkeypatch):
    """A second process reads the remembered digest; a rewritten file is hashed again."""
    f = tmp_path / "w.bin"
    f.write_bytes(b"x" * 1000)
    script = f"""
        import json
        from evalkit import provenance
        from evalkit.weights import digests
        calls = []
        real = provenance.file_digest
        digests.file_digest = lambda p, a="sha256": calls.append(p) or real(p, a)
        d = digests.remembered_digest({str(f)!r})
        print(json.dumps([d, len(calls)]))
    """
    first = _run(script, tmp_path)
    second = _run(script, tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    (d1, n1), (d2, n2) = json.loads(first.stdout), json.loads(second.stdout)
    import hashlib

    assert d1 == d2 == hashlib.sha256(b"x" * 1000).hexdigest()
    assert (n1, n2) == (1, 0)
    f.write_bytes(b"y" * 1000)
    os.utime(f, ns=(1, 1))
    (d3, n3) = json.loads(_run(script, tmp_path).stdout)
    assert n3 == 1 and d3 == hashlib.sha256(b"y" * 1000).hexdigest()


def test_corrupt_digest_memo_is_ignored(tmp_path, monkeypatch):
    from evalkit.weights import digests

    monkeypatch.setattr(digests, "_loaded_from", None)
    digests.memo_path().parent.mkdir(parents=True, exist_ok=True)
    digests.memo_path().write_text("{not json")
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    import hashlib

    assert digests.remembered_digest(f) == hashlib.sha256(b"abc").hexdigest()
    assert json.loads(digests.memo_path().read_text())  # rewritten, valid
