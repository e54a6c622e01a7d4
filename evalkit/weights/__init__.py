"""Pretrained weight files: one catalog, one resolution order, hash-checked.

Resolution order for a file (first hit wins):

1. an explicit ``path`` argument (a file, or a directory holding the official file name);
2. ``$EVALKIT_WEIGHTS_DIR/<file>`` (default ``~/.cache/evalkit/weights``);
3. ``$TORCH_HOME/hub/checkpoints/<file>`` (the torch hub cache, so files torchvision or
   pytorch-fid already downloaded are found);
4. the copy a Python package ships (e.g. the LPIPS linear layers inside ``lpips``).

Every file found is checked against its sha256; ``EVALKIT_SKIP_WEIGHT_HASH=1`` skips the
check with a printed warning (for tests with substitute, randomly initialised weights).
Nothing is ever downloaded implicitly: ``evalkit weights fetch`` is the only network call.
"""

from evalkit.weights.catalog import CATALOG, WeightFile, get_weight_file
from evalkit.weights.store import (
    candidates,
    fetch,
    hash_check_skipped,
    import_files,
    is_official,
    resolve,
    sha256_of,
    status,
    weights_dir,
)

__all__ = [
    "CATALOG",
    "WeightFile",
    "candidates",
    "fetch",
    "get_weight_file",
    "hash_check_skipped",
    "import_files",
    "is_official",
    "resolve",
    "sha256_of",
    "status",
    "weights_dir",
]
