"""The column-wise fast lane of a batch agrees with the per-row rules on every row (hypothesis).

Why: the fast lane (activities/notify/batch.py) checks whole columns with set and regex
operations and only ever *accepts* rows it can prove the per-row path (``RowParser`` and
``Person``) treats the same way. A roster from the generator exercises the common
irregularities; here rows mix typical values with the edge cases of every column
(birth dates at the limits and in other spellings, fields that need CSV quoting, bad
codes, wrong field counts), and the two paths must prepare identical batches.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.notify.batch import BatchPreparer
from activities.notify.person import COLUMNS, RowParser

TODAY = date(2026, 11, 22)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def column(typical: str, *unusual: str) -> st.SearchStrategy[str]:
    """Mostly the typical value, sometimes one of the unusual ones."""
    return st.one_of(st.just(typical), st.just(typical), st.sampled_from(unusual))


FIELDS = {
    "record_id": column("R1", "R2", " R3 ", ""),
    "first_name": column("Ana", "ana", "  José ", "O'Neil", "Li  Wei", "", "Ann,Marie", 'Bob "B"', "Zoë", "Ana\nB"),
    "last_name": column("Tran", "TRAN", "Nguyen-Smith", "", "de la Cruz", "Ö"),
    "date_of_birth": column(
        "1950-01-01", "1880-01-01", "1879-12-31", "2000-02-29", "1900-02-29", "1950-02-30", "1950-13-01",
        TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat(), "1950-1-1", " 1950-01-01", "١٩٥٠-٠١-٠١", "", "19500101"),
    "ssn": column("123-45-6789", "123456789", " 123-45-6789", "", "12-345-6789", "123-45-678"),
    "mbi": column("", "1EG4-TE5-MK73", "bad"),
    "address_line1": column("1 Main St", "", "1 Main St, Apt 2", "  2 Oak ", '3 "The Elms"'),
    "address_line2": column("", "Apt 4", "Unit, 5", " "),
    "city": column("Austin", "", "St. Louis", "Winston,Salem"),
    "state": column("TX", "tx", "ZZ", "", "PR", "AE", " TX"),
    "zip": column("78701", "78701-1234", "7870", "", " 78701", "787011"),
    "email": column("", "a@b.gov", "x@example.com", " A@B.MIL ", "not-an-email"),
    "phone": column("", "(216) 555-0167"),
    "language": column("en", "es", "", "ES", "zh", "es-MX", "klingon", " es "),
    "large_print": column("false", "true", "", "TRUE", "yes"),
    "is_minor": column("false", "true", "maybe"),
    "guardian_name": column("", "Pat Doe", "Doe, Pat"),
    "deceased": column("false", "true", ""),
}
assert tuple(FIELDS) == COLUMNS

row = st.tuples(*FIELDS.values()).map(list)
odd_row = st.one_of(st.just([]), st.lists(st.just("x"), min_size=1, max_size=len(COLUMNS) + 2).filter(lambda r: len(r) != len(COLUMNS)))
batch = st.lists(st.one_of(row, row, row, odd_row), min_size=1, max_size=60)


def prepare(rows: list[list[str]], *, fast: bool, email_allowed: bool, languages: set[str]):
    preparer = BatchPreparer(RowParser(TODAY), round_=1, letter="initial", languages=languages, email_allowed=email_allowed, fast=fast)
    return preparer.prepare(1, [list(r) for r in rows])


@SETTINGS
@given(rows=batch, email_allowed=st.booleans(), languages=st.sampled_from([{"en"}, {"en", "es"}]))
def test_the_fast_lane_prepares_every_batch_as_the_per_row_path_does(rows, email_allowed, languages):
    fast = prepare(rows, fast=True, email_allowed=email_allowed, languages=languages)
    slow = prepare(rows, fast=False, email_allowed=email_allowed, languages=languages)
    assert fast == slow


def test_a_clean_batch_takes_the_fast_lane_and_unusual_dates_do_not():
    """The property above would pass if the fast lane accepted nothing: show that it does accept."""
    clean = [[f"R{i}", "Ana", "Tran", "1950-01-01", f"123-45-{i:04d}", "", "1 Main St", "", "Austin", "TX", "78701", "", "", "en",
              "false", "false", "", "false"] for i in range(20)]
    preparer = BatchPreparer(RowParser(TODAY), round_=1, letter="initial", languages={"en"}, email_allowed=False)
    calls = []
    preparer._slow_row = lambda *a: calls.append(a)  # noqa: SLF001 - counts the rows sent to the per-row path
    preparer.prepare(1, clean)
    assert calls == []
    for odd in ("١٩٥٠-٠١-٠١", (TODAY + timedelta(days=1)).isoformat(), "1879-12-31"):
        clean[3][3] = odd
        preparer.prepare(1, clean)
        assert [a[1] for a in calls] == [3]
        calls.clear()
