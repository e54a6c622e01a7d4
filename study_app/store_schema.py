"""The vote database's tables (SQLAlchemy models) and its UTC time helpers.

``raters.rater`` is the namespaced rater key: ``prolific:<PROLIFIC_PID>`` for crowd raters,
``id:<typed or generated id>`` otherwise, so a typed id can never collide with a platform id.
``raters.slot`` (position in the balanced design) is NULL until the rater's first vote is stored;
``raters.secret_hash`` is the SHA-256 of the resume secret (the secret itself is never stored).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class StudyRow(Base):
    __tablename__ = "studies"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    definition: Mapped[str] = mapped_column(Text)          # the study file's content (JSON)
    provenance: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RaterRow(Base):
    __tablename__ = "raters"
    __table_args__ = (UniqueConstraint("study", "rater"), UniqueConstraint("study", "slot"),
                      UniqueConstraint("secret_hash"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(80))         # namespaced key (module doc)
    secret_hash: Mapped[str] = mapped_column(String(64))   # sha256 hex of the resume secret
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True)   # taken at the first vote
    first_slot: Mapped[int | None] = mapped_column(Integer, nullable=True)  # plan trial 0 came from
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)    # seed of the plan
    source: Mapped[str] = mapped_column(String(16))        # prolific | entered | generated
    platform_study: Mapped[str] = mapped_column(String(64), default="")   # STUDY_ID
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TrialRow(Base):
    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("study", "rater", "idx"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(80))
    idx: Mapped[int] = mapped_column(Integer)
    image: Mapped[str] = mapped_column(String(256))
    crop: Mapped[str] = mapped_column(String(64))          # "x,y,w,h" or ""
    method_a: Mapped[str] = mapped_column(String(256))
    method_b: Mapped[str] = mapped_column(String(256))
    a_left: Mapped[bool] = mapped_column(Boolean)
    is_golden: Mapped[bool] = mapped_column(Boolean)


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("study", "rater", "trial", name="one_vote_per_trial"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(80))
    trial: Mapped[int] = mapped_column(Integer)
    session: Mapped[str] = mapped_column(String(128))
    side: Mapped[str] = mapped_column(String(8))           # left | right | tie
    choice: Mapped[str] = mapped_column(String(256))       # chosen method or "tie"
    golden_failed: Mapped[bool] = mapped_column(Boolean)
    shown_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float] = mapped_column(Float)


TABLES = {"studies": StudyRow, "raters": RaterRow, "trials": TrialRow, "votes": VoteRow}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
