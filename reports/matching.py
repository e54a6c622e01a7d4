"""How the results table lines up with the votes: which methods and images both have.

A results table that names none of the voted methods would yield a report of "judged 0 / n/a"
rows; :func:`check_results_match` makes that an error naming both files.
:func:`voted_result_images` maps the voted items onto the result image names (exact names, else
file stems, as :mod:`reports.metric_agreement` does), so per-method means (bpp) are taken over
the images that were voted on.
"""

from __future__ import annotations

import pandas as pd

from evalkit.errors import VoteDataError


def voted_methods(canon: pd.DataFrame) -> set[str]:
    votes = canon[~canon["is_golden"]] if "is_golden" in canon else canon
    return set(votes["method_a"]) | set(votes["method_b"])


def check_results_match(results: pd.DataFrame, canon: pd.DataFrame, votes_name: str | None,
                        results_name: str | None) -> None:
    """Raise :class:`VoteDataError` when no voted method appears in the results table."""
    voted = voted_methods(canon)
    have = set(results["method"].astype(str))
    if voted & have:
        return
    def show(names):
        names = sorted(names)
        return ", ".join(names[:5]) + (f" ... ({len(names)} in all)" if len(names) > 5 else "")

    raise VoteDataError(f"the results table {results_name or '(DataFrame)'} must name the voted "
                        f"methods of {votes_name or '(DataFrame)'} (codec/setting or a 'method' "
                        f"column), got none of them: votes have {show(voted)}; results have "
                        f"{show(have)}")


def voted_result_images(canon: pd.DataFrame, result_images) -> set[str]:
    """Result image names of the items that were voted on (exact names, else file stems)."""
    from reports.metric_agreement import _item_key

    votes = canon[~canon["is_golden"]] if "is_golden" in canon else canon
    return set(_item_key(votes["item"].unique(), result_images).values())
