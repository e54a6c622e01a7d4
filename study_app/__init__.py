"""study_app package (see README)."""
