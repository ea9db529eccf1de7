"""The round's record of persons seen: exact against a plain set, across runs, compactions,
rolled-back checkpoints and reopening (resume), with memory that does not grow."""

from __future__ import annotations

import hashlib
import random

from activities.notify.workdb import WorkDB


def _keys(n: int, seed: int) -> list[bytes]:
    return [hashlib.blake2b(f"{seed}-{i}".encode(), digest_size=16).digest() for i in range(n)]


def test_claims_are_exact_across_runs_compactions_and_reopening(tmp_path):
    rng = random.Random(5)
    people = _keys(6000, 1)
    path = tmp_path / "work.sqlite"
    truth: set[bytes] = set()
    db = WorkDB(path, run_size=100)
    for batch_no in range(40):
        # New people, people seen in earlier batches, and repeats within the batch.
        batch = list(dict.fromkeys(rng.sample(people[: 150 * (batch_no + 1)], 120)))
        db.begin()
        new = db.claim(batch)
        db.commit()
        assert new == set(batch) - truth, batch_no
        truth |= new
        db.maybe_merge()
        if batch_no == 25:  # a checkpoint that is rolled back leaves no trace once reopened
            db.begin()
            db.claim(_keys(50, 99))
            db.rollback()
            db.close()
            db = WorkDB(path, run_size=100)
    db.finish()
    runs = db._writer.execute("SELECT count(*) FROM run_list").fetchone()[0]
    assert db.seen_count() == len(truth)
    assert runs < 16  # compacted: far fewer runs than the ~40 built
    db.close()
    again = WorkDB(path, run_size=100)
    again.begin()
    assert again.claim(sorted(truth)[:500]) == set()  # everyone is remembered after reopening
    assert again.claim(_keys(50, 99)) == set(_keys(50, 99))  # the rolled-back ones were never recorded
    again.rollback()
    assert again.seen_any(sorted(truth)[:10]) == set(sorted(truth)[:10])
    again.close()
