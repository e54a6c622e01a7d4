"""baselines package (see README)."""
