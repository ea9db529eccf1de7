"""Notification export throughput and memory, against a plain-Python baseline.

For each roster size (default 100,000 and 1,000,000 rows, generated with the shared
make_roster.py into a temporary folder and deleted afterwards) it runs, each in a fresh
subprocess so that peak memory is that run's alone:

* export:   the real ``notify.export_round`` engine (validation, duplicate merging,
            fsync'd checkpoints every 5,000 rows, counts, manifest; the rows prepared by
            a reader process on another core);
* baseline: plain Python that reads the same CSV with the csv module and writes the
            same fields with ``str.format`` (recipient key, variant, language, large
            print, method, address block), with no validation, no duplicate merging, no
            checkpoints and no counts;
* copy:     (for reference) the CSV read and 17 raw columns written with str.format.

It prints rows per second (wall clock), CPU seconds (all processes of the run) and peak RSS
(the child's VmHWM from /proc; for the export plus the peak of its reader process, read
with ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, since both run at once), the
ratio export/baseline and the memory ratio 1M/100k. Targets: export at least half the
baseline's rate; peak memory under 256 MB at 1M rows and within 20% of the 100k figure.
The machine's other load moves the figures: run it on a quiet machine.

    python -m bench.notify [--rows 100000 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAKE_ROSTER = REPO.parent / "shared" / "tools" / "make_roster.py"  # light on imports: children measure their own memory
TARGET_RATIO = 0.5
TARGET_RSS_MB = 256
TARGET_RSS_GROWTH = 0.20


def _child(kind: str, roster: Path, work: Path) -> dict:
    """Run one measurement in a fresh interpreter; returns its JSON report plus peak RSS."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.notify", "--child", kind, str(roster), str(work)],
                          cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the {kind} run failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    # The child's own peak, plus its reader process's (they run at once: a conservative sum).
    report["peak_rss_mb"] = (report["vmhwm_kb"] + report.get("reader_kb", 0)) / 1024
    report["reader_rss_mb"] = report.get("reader_kb", 0) / 1024
    report["process_wall_s"] = wall
    return report


def _vmhwm_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_child(kind: str, roster: Path, work: Path) -> None:
    from activities.notify.export import Exporter
    from activities.notify.letters import Letters
    from activities.notify.person import identity_material
    from activities.notify.person_key import KeyMaker, load_or_create_secret
    from activities.notify.samples import sample_facts
    from models.notification import NotifyRequest

    facts = sample_facts()
    work.mkdir(parents=True, exist_ok=True)
    cpu, wall = time.process_time(), time.perf_counter()
    rows = 0
    if kind == "export":
        exporter = Exporter(Letters(), roster.parent.parent, work / "state")  # the roster is in <base>/rosters
        req = NotifyRequest(breach_id="BENCH", round=1, roster_uri=roster.name, facts=facts, languages=["en", "es"], out_folder=str(work / "out"))
        result = exporter.run(req)
        rows = result.counts.rows_read
        extra = {"recipients": result.counts.recipients, "duplicates": result.counts.duplicates_merged, "export_bytes": result.export.bytes}
    else:
        import csv

        out = open(work / f"{kind}.csv", "w", encoding="utf-8", newline="")
        keys = KeyMaker(load_or_create_secret(work / "person-key"), "BENCH", 1)
        with open(roster, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            if kind == "copy":
                line = ",".join(["{}"] * 17) + "\n"
                for r in reader:
                    out.write(line.format(*r[:17]))
                    rows += 1
            else:
                line = ",".join(["{}"] * 17) + "\n"
                translated = {"en", "es"}
                for (rid, first, last, dob, ssn, mbi, a1, a2, city, st, zp, email, phone, lang, lp, minor, guardian, dead) in reader:
                    key = keys.digest(identity_material(first, last, dob, "ssn:" + ssn.replace("-", ""))).hex()
                    if dead == "true":
                        variant, who = "estate", (f"To the estate or next of kin of {first} {last}",)
                    elif minor == "true":
                        variant, who = "guardian", ((guardian, f"Parent or guardian of {first}") if guardian else (f"Parent or guardian of {first}",))
                    else:
                        variant, who = "adult", (f"{first} {last}",)
                    block = (*who, a1, *((a2,) if a2 else ()), f"{city} {st} {zp}", "", "", "")[:5]
                    out.write(line.format(key, rid, "1", "initial", variant, lang if lang in translated else "en", lang, lp,
                                          "first_class_mail", "", *block, st, zp))
                    rows += 1
        out.close()
        extra = {}
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the export's reader process, if it started one
    print(json.dumps({"kind": kind, "rows": rows, "wall_s": wall, "cpu_s": cpu + children.ru_utime + children.ru_stime,
                      "vmhwm_kb": _vmhwm_kb(), "reader_kb": children.ru_maxrss, **extra}))


def main(sizes: list[int], keep: Path | None) -> int:
    if not MAKE_ROSTER.is_file():
        raise SystemExit(f"{MAKE_ROSTER} not found: run from the repository next to ../shared")
    folder = Path(tempfile.mkdtemp(prefix="breach-bench-notify-", dir=keep))
    results: dict[int, dict[str, dict]] = {}
    try:
        for size in sizes:
            roster = folder / "rosters" / f"roster-{size}.csv"  # where the engine reads rosters: <base>/rosters
            roster.parent.mkdir(exist_ok=True)
            print(f"generating a {size:,}-row roster ...", flush=True)
            subprocess.run([sys.executable, str(MAKE_ROSTER), str(size), "--seed", "11", "--out", str(roster)], check=True)
            results[size] = {}
            for kind in ("baseline", "export", "copy"):
                work = folder / f"work-{size}-{kind}"
                r = results[size][kind] = _child(kind, roster, work)
                reader = f" (incl. reader process {r['reader_rss_mb']:.1f} MB)" if r["reader_rss_mb"] else ""
                print(f"  {kind:8s} {size:>9,} rows  {r['rows'] / r['wall_s']:>10,.0f} rows/s  cpu {r['cpu_s']:6.2f} s  "
                      f"wall {r['wall_s']:6.2f} s  peak RSS {r['peak_rss_mb']:6.1f} MB{reader}", flush=True)
                shutil.rmtree(work, ignore_errors=True)
            roster.unlink()
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    ok = True
    for size, r in results.items():
        ratio = (r["export"]["rows"] / r["export"]["wall_s"]) / (r["baseline"]["rows"] / r["baseline"]["wall_s"])
        cpu_ratio = r["baseline"]["cpu_s"] / r["export"]["cpu_s"]
        good = ratio >= TARGET_RATIO
        ok &= good
        print(f"{size:>9,} rows: export/baseline rate {ratio:4.2f} (cpu {cpu_ratio:4.2f})  target >= {TARGET_RATIO}  {'ok' if good else 'MISSED'}")
    if len(results) >= 2:
        small, large = min(results), max(results)
        a, b = results[small]["export"]["peak_rss_mb"], results[large]["export"]["peak_rss_mb"]
        growth = b / a - 1
        good_abs, good_growth = b < TARGET_RSS_MB, growth <= TARGET_RSS_GROWTH
        ok &= good_abs and good_growth
        print(f"peak RSS: {a:.1f} MB at {small:,} rows, {b:.1f} MB at {large:,} rows: {growth:+.1%} "
              f"(target < {TARGET_RSS_MB} MB: {'ok' if good_abs else 'MISSED'}; within {TARGET_RSS_GROWTH:.0%}: {'ok' if good_growth else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, default=None, help="create the temporary folder under DIR")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ROSTER", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_child(args.child[0], Path(args.child[1]), Path(args.child[2]))
    else:
        raise SystemExit(main(args.rows, args.keep))
