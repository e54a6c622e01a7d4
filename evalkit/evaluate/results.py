"""The results and summary tables: their columns, and reading/writing them (CSV or Parquet).

Results table (one row per ``(codec, setting, image)``), the contract read by ``evalkit rd``,
``bd``, ``table``, ``ratecontrol`` and the reports:

=========  ==========================================================================
codec      codec folder name (``runs/<codec>/``)
setting    operating-point folder name (``runs/<codec>/<setting>/``)
image      image name (file stem of the reference)
width      width of the original in pixels
height     height of the original in pixels
bytes      compressed size in bytes (bitstream size or manifest ``bytes``); empty (NA)
           when the manifest only gave ``bpp``
bpp        bits per pixel of the original: ``bytes * 8 / (width * height)`` (or the
           manifest's ``bpp``)
encode_s,  optional per-image encode/decode wall times in seconds, when the run records
decode_s   them (:mod:`evalkit.evaluate.timings`); not metrics
model      optional per-image model name (:mod:`evalkit.evaluate.annotations`); not a metric
weights_   ``weights_verified``: False when a metric ran on stand-in weights (hash not
verified   the official one); present when a metric needs weights; not a metric
<metric>   one column per pair-level metric, named as in the metric registry
           (``psnr``, ``ssim``, ``ms_ssim``, ``lpips``, ``dists``...); PSNR of identical
           images is ``inf``
=========  ==========================================================================

In a CSV file a name (codec, setting, image, model) starting with ``=``, ``+``, ``-``, ``@``, tab,
carriage return or ``'`` is written with one more leading ``'``, so a spreadsheet shows it as text
instead of running it as a formula; :func:`read_table` removes that quote again.

Summary table (one row per ``(codec, setting)``):

==============  ===================================================================
codec, setting  as above
images          number of images
pixels          total pixels of the originals
bytes           total bytes (NA if any image's bytes are unknown)
bpp             mean of the per-image bpp (CompressAI convention)
bpp_agg         total bits / total pixels (CLIC convention)
<metric>        mean of the per-image values of each pair-level metric
psnr_agg        PSNR of the MSE pooled over every pixel of every image (needs ``psnr``)
ms_ssim_agg     pixel-count-weighted mean of MS-SSIM (needs ``ms_ssim``)
<set metric>    set-level metrics (``fid``, ``kid``) over all images of the setting
encode_s, ...   optional: mean and total (``decode_s_total``...) per-image times
==============  ===================================================================
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalkit.errors import ResultsError
from evalkit.evaluate.timings import TIMING_COLUMNS
from evalkit.provenance import atomic_target
from evalkit.textsafe import csv_protect, csv_unprotect

#: Leading columns of the results table, in order; metric columns follow.
RESULT_COLUMNS: tuple[str, ...] = ("codec", "setting", "image", "width", "height", "bytes", "bpp")
#: Leading columns of the summary table; metric means, aggregates and set metrics follow.
SUMMARY_COLUMNS: tuple[str, ...] = ("codec", "setting", "images", "pixels", "bytes", "bpp",
                                    "bpp_agg")
#: Columns of the summary that are CLIC aggregates (not metric means).
AGGREGATE_COLUMNS: tuple[str, ...] = ("bpp_agg", "psnr_agg", "ms_ssim_agg")

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file suffix; raises :class:`ResultsError` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ResultsError(f"table file must end in .csv or .parquet, got {str(path)!r}")
    return _FORMATS[suffix]


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Metric columns of a results table (everything but the leading, timing and descriptive
    columns: ``model``, ``weights_verified``)."""
    from evalkit.evaluate.annotations import INFO_COLUMNS

    return [c for c in df.columns if c not in RESULT_COLUMNS and c not in TIMING_COLUMNS
            and c not in INFO_COLUMNS]


def check_results(df: pd.DataFrame, metrics: list[str] | tuple[str, ...] = (),
                  columns: tuple[str, ...] = RESULT_COLUMNS) -> None:
    """Raise :class:`ResultsError` unless ``df`` has ``columns`` (default: all the results
    columns) and ``metrics``."""
    missing = [c for c in (*columns, *metrics) if c not in df.columns]
    if missing:
        raise ResultsError(f"results table must have columns {', '.join(missing)}; "
                           f"got {', '.join(map(str, df.columns))}")
    if df.empty:
        raise ResultsError("results table must have at least one row, got none")


#: Columns of a results/summary table that hold text; every other column holds numbers.
TEXT_COLUMNS: tuple[str, ...] = ("codec", "setting", "image", "model", "weights_verified")


def _check_numbers(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Every column but :data:`TEXT_COLUMNS` must hold numbers (empty cells are NaN); ``bytes``
    whole non-negative numbers.  Raises :class:`ResultsError` naming file, column and row."""
    import numpy as np

    for col in df.columns:
        if col in TEXT_COLUMNS or pd.api.types.is_numeric_dtype(df[col]):
            continue
        numbers = pd.to_numeric(df[col], errors="coerce")
        bad = numbers.isna() & df[col].notna() & (df[col].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ResultsError(f"{path}: column {col} must hold numbers, got {df[col].iat[i]!r} "
                               f"in row {i + 2}; fix or remove that row")
        df[col] = numbers
    if "bytes" in df.columns:
        b = df["bytes"].astype("float64")
        bad = b.notna() & ((b != np.round(b)) | (b < 0) | ~np.isfinite(b))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ResultsError(f"{path}: column bytes must hold whole non-negative numbers, got "
                               f"{df['bytes'].iat[i]!r} in row {i + 2}")
        df["bytes"] = b.astype("Int64")
    if "bpp" in df.columns and df["bpp"].isna().any():
        i = int(np.flatnonzero(df["bpp"].isna().to_numpy())[0])
        raise ResultsError(f"{path}: column bpp is empty in row {i + 2}; every row needs its rate")
    if "bytes" not in df.columns and "bpp" in df.columns:  # rate known by bpp alone: bytes unknown
        df["bytes"] = pd.array([pd.NA] * len(df), dtype="Int64")
    return df


def _protect_text(df: pd.DataFrame) -> pd.DataFrame:
    """Names (codec, setting, image, model) come from folder and file names: a CSV cell starting
    like a formula is quoted (reversibly, :func:`evalkit.textsafe.csv_protect`) so a spreadsheet
    shows it as text, and :func:`read_table` gives the name back unchanged."""
    cols = [c for c in TEXT_COLUMNS if c in df.columns]
    if not cols:
        return df
    out = df.copy()
    for c in cols:
        out[c] = out[c].map(csv_protect)
    return out


def _unprotect_text(df: pd.DataFrame) -> pd.DataFrame:
    for c in TEXT_COLUMNS:
        if c in df.columns:
            df[c] = df[c].map(csv_unprotect)
    return df


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a results or summary table written by :func:`write_table` (CSV or Parquet).

    Every column but ``codec``, ``setting`` and ``image`` must hold numbers; ``bytes`` whole
    numbers.  A table without a ``bytes`` column but with ``bpp`` reads with ``bytes`` unknown
    (NA), as for rows whose manifest gave only ``bpp``.

    Raises:
        ResultsError: the file is missing, not a table, lacks ``codec``/``setting``/``bpp``, has
            no rows, or holds text where numbers belong (naming the file, column and row).
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise ResultsError(f"{path}: no such results file")
    try:
        if fmt == "csv":
            df = _unprotect_text(pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS},
                                             encoding="utf-8"))
        else:
            df = pd.read_parquet(path)
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not a text CSV file (cannot decode it as UTF-8); give the "
                           "results table `evalkit evaluate` wrote") from None
    except Exception as exc:  # pandas/pyarrow raise many types
        reason = " ".join(str(exc).split())  # parser messages span lines; the error is one
        raise ResultsError(f"{path}: cannot read table ({exc.__class__.__name__}: {reason}); "
                           "give the results table `evalkit evaluate` wrote") from exc
    missing = [c for c in ("codec", "setting", "bpp") if c not in df.columns]
    if missing:
        raise ResultsError(f"{path}: not a results or summary table: no column "
                           f"{', '.join(missing)} (got {', '.join(map(str, df.columns))}); give "
                           "the table `evalkit evaluate` wrote")
    if df.empty:
        raise ResultsError(f"{path}: the table has no rows")
    return _check_numbers(df, path)


def read_results(path: str | Path, metrics: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Read and validate a results table (see the module docstring for its columns)."""
    df = read_table(path)
    check_results(df, metrics)
    return df


def write_table_to(df: pd.DataFrame, tmp: str | Path, fmt: str) -> None:
    """Write ``df`` as ``fmt`` (``csv``/``parquet``) to ``tmp`` (no atomicity: see
    :func:`write_table`)."""
    if fmt == "csv":
        _protect_text(df).to_csv(tmp, index=False, float_format="%.10g")
    else:
        df.to_parquet(tmp, index=False)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` (``.csv`` or ``.parquet``) atomically (temp file + rename)."""
    path = Path(path)
    fmt = table_format(path)
    with atomic_target(path) as tmp:
        write_table_to(df, tmp, fmt)
    return path


def default_summary_path(out: str | Path) -> Path:
    """``results.csv`` -> ``results.summary.csv`` (same format, same folder)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.summary{out.suffix}")
