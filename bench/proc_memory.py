"""Process memory for the benchmarks (Linux /proc): current and peak RSS, and a peak reset.

Shared by ``bench/metrics.py`` and ``bench/evaluate_scale.py`` (imported as a sibling module:
the scripts run with ``bench/`` on ``sys.path``).
"""

from __future__ import annotations


def status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak) of this process from /proc, in MB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak counts only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
