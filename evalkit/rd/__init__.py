"""RD analysis of a results table: curves and plots, BD-rate, rate control, CompressAI JSON.

Public entry points::

    from evalkit.rd import plot_rd, bd_table, rate_control, transparent, rd_points
    from evalkit.rd import read_compressai_json, write_compressai_json
"""

from evalkit.rd.bd import (
    BD_COLUMNS,
    BDOverlapWarning,
    bd_pair,
    bd_table,
    format_bd_table,
)
from evalkit.rd.compressai_json import (
    RDCurve,
    curve_from_table,
    load_reference,
    read_compressai_json,
    resolve_reference,
    write_compressai_json,
)
from evalkit.rd.plot import plot_rd
from evalkit.rd.points import ms_ssim_to_db, rd_points
from evalkit.rd.ratecontrol import RateControlResult, rate_control, transparent

__all__ = ["BD_COLUMNS", "BDOverlapWarning", "RDCurve", "RateControlResult", "bd_pair",
           "bd_table", "curve_from_table", "format_bd_table", "load_reference",
           "ms_ssim_to_db", "plot_rd", "rate_control", "rd_points", "read_compressai_json",
           "resolve_reference", "transparent", "write_compressai_json"]
