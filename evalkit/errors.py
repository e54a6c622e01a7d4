"""Named exceptions shared by the whole toolkit.

Library code raises these; only the CLI turns them into one-line messages and exit codes,
and only the study app turns them into on-page errors.
"""


class EvalkitError(Exception):
    """Base class of every error evalkit raises on purpose (bad input, missing files...)."""


class ImageError(EvalkitError):
    """An image file cannot be used: unreadable, truncated, unsupported pixel format."""


class ImagePairError(EvalkitError):
    """A reference and a reconstruction cannot be compared (size or channel mismatch)."""


class WeightsError(EvalkitError):
    """A pretrained weight file is missing, has the wrong hash, or cannot be fetched."""


class MetricError(EvalkitError):
    """A metric name is unknown or a metric cannot be computed on the given input."""


class LayoutError(EvalkitError):
    """A refs/runs folder does not follow the documented layout."""


class ResultsError(EvalkitError):
    """A results/summary table is missing, unreadable or lacks the columns a step needs."""


class RDError(EvalkitError):
    """RD curves or BD-rate cannot be computed (too few points, bad reference file...)."""


class RateControlError(EvalkitError):
    """A rate-control problem is ill-posed (unknown codec, missing sizes, bad budget...)."""


class VoteDataError(EvalkitError):
    """A vote table or a metric results table given to ``evalkit report`` cannot be used
    (missing column, unknown answer value, empty comparison set...)."""


class StudyError(EvalkitError):
    """A study definition, trial plan, vote or vote database is invalid or unusable."""


class CodecError(EvalkitError):
    """A baseline codec is unknown, not available in this install, or failed on an image."""


class EvaluationError(EvalkitError):
    """Evaluation settings are invalid (e.g. a negative number of workers)."""


class CacheError(EvalkitError):
    """The evaluation cache cannot be opened, written or read (permissions, full disk, a
    database damaged beyond what evalkit repairs by itself)."""


class OutputError(EvalkitError):
    """An output file cannot be written (read-only folder, full disk, a folder in the way)."""


class FigureError(EvalkitError):
    """A figure cannot be made as asked (crop box outside the image, unknown method or image,
    no images two methods share...)."""
