"""The vote store on SQLite and (when EVALKIT_TEST_PG_URL is set) a real PostgreSQL server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from evalkit.errors import StudyError
from study_app.design import PlannedTrial
from study_app.export import VOTE_COLUMNS, votes_table
from study_app.store import RaterExists, VoteStore, secret_hash, with_first_trial
from study_app.store_engine import StoreUnavailable, normalize_url
from study_app.store_schema import VoteRow, utcnow

N_TRIALS = 6


def planner(slot: int):
    trials = [PlannedTrial(i, f"img{i % 3}", None if i % 2 else (0, 0, 16, 16), "c/a", "c/b",
                           (i + slot) % 2 == 0, i == N_TRIALS - 1) for i in range(N_TRIALS)]
    trials[-1] = PlannedTrial(N_TRIALS - 1, "img0", None, "original", "golden:blur", True, True)
    return 1000 + slot, trials


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = VoteStore(url, pool_size=5)
    s.create_schema()
    yield s
    s.dispose()


@pytest.fixture
def study():
    return "t" + uuid.uuid4().hex[:10]   # fresh study per test: PostgreSQL DB is shared


def first_of(slot: int) -> tuple[int, PlannedTrial]:
    return slot, planner(slot)[1][0]


def start(store, study, rater, **kw) -> str:
    """Enrol ``rater`` and store its first vote (trial 0, left) so that it owns a slot."""
    _, secret = store.enroll(study, rater, **kw)
    store.submit(study, rater, 0, "left", first=first_of(store.next_slot(study)), planner=planner)
    return secret


def test_url_normalisation(tmp_path):
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url(tmp_path / "x.sqlite").startswith("sqlite:////")
    with pytest.raises(StudyError, match="database URL must be"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(StudyError, match="must be a file"):
        VoteStore("sqlite:///:memory:")


def test_sqlite_uses_wal_and_busy_timeout(tmp_path):
    s = VoteStore(tmp_path / "v.sqlite")
    s.create_schema()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    s.dispose()


def test_enroll_submit_resume_export(store, study):
    rec, secret = store.enroll(study, "id:alice", source="entered")
    assert rec.slot is None and len(secret) == 32 and store.trials(study, "id:alice") == []
    assert store.rater_by_secret(study, secret).rater == "id:alice"
    assert store.rater_by_secret(study, secret + "x") is None
    assert secret not in store.frame("raters", study).to_csv()      # only a hash is stored
    with pytest.raises(RaterExists):
        store.enroll(study, "id:alice")
    store.enroll(study, "id:bob")
    assert store.next_slot(study) == 0                          # enrolment takes no slot
    t0 = utcnow()
    r = store.submit(study, "id:alice", 0, "left", session="s1", shown_at=t0,
                     answered_at=t0 + timedelta(seconds=2.5), first=first_of(0), planner=planner)
    assert r.stored and r.choice == "c/a"                        # trial 0: a_left for slot 0
    rec = store.get_rater(study, "id:alice")
    assert (rec.slot, rec.seed) == (0, 1000) and store.next_slot(study) == 1
    assert store.trials(study, "id:alice") == planner(0)[1]
    again = store.submit(study, "id:alice", 0, "right", session="s2")
    assert not again.stored and again.choice == "c/a"            # first answer kept
    store.submit(study, "id:alice", 1, "tie")
    assert store.next_trial(study, "id:alice", N_TRIALS) == 2    # resume point
    store.submit(study, "id:alice", N_TRIALS - 1, "right")       # golden: picked the degraded one
    assert store.count_votes(study) == 3
    df = votes_table(store, study)
    assert list(df.columns) == list(VOTE_COLUMNS)
    row0 = df[df.trial == 0].iloc[0]
    assert row0.duration_s == pytest.approx(2.5)
    assert row0.left == "c/a" and row0.right == "c/b" and row0.crop == "0,0,16,16"
    assert row0.shown_at.endswith("Z") and row0.session == "s1"
    assert df[df.trial == 1].iloc[0].choice == "tie"
    gold = df[df.is_golden].iloc[0]
    assert gold.golden_failed and gold.choice == "golden:blur" and gold.method_a == "original"
    assert not df[~df.is_golden].golden_failed.any()


def test_first_vote_planned_for_a_taken_slot_keeps_what_was_shown(store, study):
    """Two raters are shown trial 0 of slot 0; the second to answer gets slot 1 with the
    trial it answered as its trial 0 (swapped in if slot 1 plans it, else in place of one)."""
    for r in ("id:a", "id:b"):
        store.enroll(study, r)
    shown = first_of(0)
    store.submit(study, "id:a", 0, "left", first=shown, planner=planner)
    store.submit(study, "id:b", 0, "right", first=shown, planner=planner)
    a, b = store.get_rater(study, "id:a"), store.get_rater(study, "id:b")
    assert (a.slot, b.slot) == (0, 1)
    tb = store.trials(study, "id:b")
    assert tb[0] == shown[1] and [t.index for t in tb] == list(range(N_TRIALS))
    assert votes_table(store, study).set_index("rater").loc["id:b", "choice"] == "c/b"
    assert store.frame("raters", study).set_index("rater").loc["id:b", "first_slot"] == 0


def test_with_first_trial_swaps_or_replaces():
    plan = planner(3)[1]
    assert with_first_trial(plan, plan[0]) == plan
    swapped = with_first_trial(plan, plan[2])
    assert swapped[0].image == plan[2].image and swapped[2].image == plan[0].image
    assert sorted(t.index for t in swapped) == list(range(N_TRIALS))
    other = PlannedTrial(0, "elsewhere", None, "c/a", "c/b", True, False)
    replaced = with_first_trial(plan, other)
    assert replaced[0] == other and len(replaced) == N_TRIALS
    assert sum(t.is_golden for t in replaced) == sum(t.is_golden for t in plan)


def test_slot_needs_a_first_vote_on_trial_0(store, study):
    store.enroll(study, "id:a")
    with pytest.raises(StudyError, match="planned trials"):
        store.submit(study, "id:a", 0, "left")                    # no plan given
    with pytest.raises(StudyError, match="planned trials"):
        store.submit(study, "id:a", 2, "left", first=first_of(0), planner=planner)
    assert store.get_rater(study, "id:a").slot is None and store.count_votes(study) == 0


def test_database_enforces_one_vote_per_trial(store, study):
    start(store, study, "alice")
    row = dict(study=study, rater="alice", trial=0, session="", side="left", choice="c/a",
               golden_failed=False, shown_at=utcnow(), answered_at=utcnow(), duration_s=0.0)
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(VoteRow).values(**row))
    assert store.count_votes(study) == 1


def test_bad_submissions_are_refused(store, study):
    start(store, study, "alice")
    with pytest.raises(StudyError, match="planned trials"):
        store.submit(study, "alice", 99, "left")
    with pytest.raises(StudyError, match="choice must be"):
        store.submit(study, "alice", 1, "A")
    with pytest.raises(StudyError, match="must be enrolled"):
        store.submit(study, "mallory", 0, "left", first=first_of(0), planner=planner)
    assert store.count_votes(study) == 1


def test_register_study_refuses_new_seed(store, study):
    store.register_study(study, 5, {"a": 1}, {})
    store.register_study(study, 5, {"a": 2}, {})
    with pytest.raises(StudyError, match="seed must stay 5"):
        store.register_study(study, 6, {}, {})


def test_concurrent_first_votes_give_dense_unique_slots(store, study):
    names = [f"r{i}" for i in range(24)]
    for n in names:
        store.enroll(study, n)
    jobs = names * 2                                    # every rater's first vote arrives twice

    def first_vote(n):
        return store.submit(study, n, 0, "left", first=first_of(0), planner=planner).stored

    with ThreadPoolExecutor(16) as ex:
        stored = list(ex.map(first_vote, jobs))
    assert sum(stored) == 24 and store.count_votes(study) == 24
    slots = {n: store.get_rater(study, n).slot for n in names}
    assert sorted(slots.values()) == list(range(24))
    assert len(store.frame("trials", study)) == 24 * N_TRIALS


def test_many_threads_no_lost_or_duplicate_vote(store, study):
    raters = [f"r{i}" for i in range(20)]
    for r in raters:
        start(store, study, r)
    jobs = [(r, t) for r in raters for t in range(N_TRIALS)] * 3    # each vote sent 3 times
    barrier = threading.Barrier(32)
    stored = []

    def work(k):
        barrier.wait()
        mine = jobs[k::32]
        stored.append(sum(store.submit(study, r, t, "left" if t % 2 else "tie").stored
                          for r, t in mine))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(stored) == len(raters) * (N_TRIALS - 1)     # trial 0 was stored by start()
    assert store.count_votes(study) == len(raters) * N_TRIALS
    df = votes_table(store, study)
    assert not df.duplicated(["rater", "trial"]).any()


def test_many_processes_no_lost_or_duplicate_vote(store, study, tmp_path):
    raters = [f"p{i}" for i in range(12)]
    for r in raters:
        start(store, study, r)
    store.engine.dispose()
    # plain subprocesses (not multiprocessing: AppTest leaves the app script as __main__,
    # which spawn would re-run); each submits every vote of half the raters twice, and the
    # halves overlap fully across the 4 processes
    halves = [raters[:6], raters[6:], raters[:6], raters[6:]]
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from _study_workers import submit_all;"
            "print(submit_all(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5]), 2,"
            " sys.argv[6]))")
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).parent), store.url, study,
                               json.dumps(h), str(N_TRIALS), str(gate)], stdout=subprocess.PIPE, text=True)
             for h in halves]
    deadline = time.time() + 120
    while len(list(gate.glob("ready-*"))) < 4 and time.time() < deadline:
        time.sleep(0.05)
    (gate / "go").touch()                          # all 4 processes start writing together
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    stored = [int(o.strip().splitlines()[-1]) for o in outs]
    assert sum(stored) == len(raters) * (N_TRIALS - 1)
    assert store.count_votes(study) == len(raters) * N_TRIALS


def test_sqlite_file_readable_by_plain_sqlite3(tmp_path, study):
    s = VoteStore(tmp_path / "v.sqlite")
    s.create_schema()
    start(s, study, "a")
    s.dispose()
    con = sqlite3.connect(tmp_path / "v.sqlite")
    assert con.execute("select count(*) from votes").fetchone()[0] == 1
    con.close()


def test_unreachable_or_garbage_database_is_store_unavailable(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    s = VoteStore(junk)
    with pytest.raises(StoreUnavailable, match="junk.sqlite cannot be used") as exc:
        s.count_votes()
    assert "\n" not in str(exc.value)
    s.dispose()
    with pytest.raises(StudyError, match="does not exist"):
        VoteStore(tmp_path / "typo" / "votes.sqlite", create=False)
    assert not (tmp_path / "typo").exists()
    down = VoteStore("postgresql://u:pw@127.0.0.1:9/none")     # port 9: nothing listens
    with pytest.raises(StoreUnavailable, match="127.0.0.1:9/none") as exc:
        down.count_votes()
    assert "pw" not in str(exc.value)
    down.dispose()


def test_secret_hash_is_sha256():
    assert len(secret_hash("x")) == 64 and secret_hash("x") != secret_hash("y")
