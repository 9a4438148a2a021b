"""bench.process_cpu: the load test's CPU per request, by kind of process, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.process_cpu import (
    CpuSplit,
    Snapshot,
    Times,
    cpu_split,
    cpu_sum,
    process_kind,
    snapshot,
)

TICKS = os.sysconf("SC_CLK_TCK")


def write_process(
    proc: Path,
    pid: int,
    comm: str,
    cmdline: str,
    *,
    utime: int,
    stime: int,
    start: int,
    cutime: int = 0,
    cstime: int = 0,
) -> None:
    """A /proc/<pid> with the fields snapshot() reads (proc(5): utime 14, stime 15, cutime 16,
    cstime 17, starttime 22)."""
    folder = proc / str(pid)
    folder.mkdir()
    after_comm = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime)]
    after_comm += [str(cutime), str(cstime), "20", "0", "1", "0", str(start), "0"]
    (folder / "stat").write_text(f"{pid} ({comm}) " + " ".join(after_comm) + "\n")
    (folder / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")


@pytest.mark.parametrize(
    ("comm", "cmdline", "kind"),
    [
        ("python", "/venv/bin/python -m gunicorn -c deploy/gunicorn.conf.py", "gunicorn"),
        ("postgres", "postgres: postgres handoff 127.0.0.1(5000) idle", "PostgreSQL"),
        ("nginx", "nginx: worker process", "nginx"),
        ("redis-server", "/usr/bin/redis-server 127.0.0.1:6390", "Redis"),
        ("celery", "/venv/bin/python -m celery -A cms worker", "Celery"),
        ("wrk", "/usr/bin/wrk -t2 -c20", "wrk"),
        ("beam.smp", "/usr/lib/erlang/erts/bin/beam.smp", "other"),
    ],
)
def test_each_process_is_counted_as_its_kind(comm, cmdline, kind):
    assert process_kind(comm, cmdline) == kind


def test_a_snapshot_reads_each_process_and_the_machine(tmp_path):
    write_process(
        tmp_path,
        10,
        "python",
        "python -m gunicorn",
        utime=300,
        stime=100,
        start=5,
        cutime=40,
        cstime=2,
    )
    # A name with a space and a parenthesis: the fields are read after the last ")".
    write_process(tmp_path, 11, "odd) name", "odd", utime=7, stime=3, start=6)
    (tmp_path / "self").mkdir()  # not a process folder
    (tmp_path / "stat").write_text(
        "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\nintr 1\n"
    )

    taken = snapshot(tmp_path)

    assert taken.processes == {
        (10, 5): Times("gunicorn", own=400 / TICKS, children=42 / TICKS),
        (11, 6): Times("other", own=10 / TICKS, children=0.0),
    }
    assert taken.self_pid == os.getpid()
    assert taken.machine_busy == pytest.approx(150 / TICKS)  # not idle (800), not iowait (50)
    assert taken.machine_total == pytest.approx(1000 / TICKS)


def test_the_split_counts_what_each_kind_spent_in_between():
    me = 99
    before = Snapshot(
        processes={
            (1, 1): Times("gunicorn", own=1.0, children=3.0),  # the master
            (10, 5): Times("gunicorn", own=4.0, children=0.0),
            (11, 5): Times("gunicorn", own=2.0, children=0.0),  # recycled during the run
            (2, 1): Times("PostgreSQL", own=0.5, children=8.0),  # the postmaster
            (20, 5): Times("PostgreSQL", own=1.0, children=0.0),
            (30, 5): Times("Redis", own=0.5, children=0.0),  # its pid reused below
            (me, 1): Times("other", own=3.0, children=2.0),
        },
        machine_busy=100.0,
        machine_total=200.0,
        self_pid=me,
    )
    after = Snapshot(
        processes={
            # the master reaped worker 11, which had spent 2.75 s in all
            (1, 1): Times("gunicorn", own=1.25, children=5.75),
            (10, 5): Times("gunicorn", own=10.0, children=0.0),
            (12, 9): Times("gunicorn", own=1.0, children=0.0),  # its replacement: all of it
            (2, 1): Times("PostgreSQL", own=0.75, children=8.0),
            (20, 5): Times("PostgreSQL", own=2.5, children=0.0),
            (30, 9): Times("Redis", own=0.25, children=0.0),
            # this process reaped the load generator: 0.5 s
            (me, 1): Times("other", own=3.25, children=2.5),
        },
        machine_busy=130.0,
        machine_total=240.0,
        self_pid=me,
    )

    split = cpu_split(before, after)

    # master 0.25 + worker 10: 6.0 + worker 11: 0.75 after `before` + worker 12: 1.0
    assert split.seconds["gunicorn"] == pytest.approx(8.0)
    assert split.seconds["PostgreSQL"] == pytest.approx(1.75)
    # the new process on pid 30 counts from its start; the old one ended unreaped by any
    # process seen here: what it spent in the window is lost, and its earlier time is taken off
    assert split.seconds["Redis"] == pytest.approx(-0.25)
    assert split.seconds["wrk"] == pytest.approx(0.5)
    assert split.seconds["other"] == pytest.approx(0.25)
    assert split.seconds["nginx"] == 0.0
    assert split.busy_share == pytest.approx(30 / 40)


def test_per_request_milliseconds_add_up_to_the_total():
    split = CpuSplit({"gunicorn": 6.0, "PostgreSQL": 1.5, "wrk": 0.5}, busy_share=0.99)

    per_request = split.per_request_ms(250)

    assert per_request["gunicorn"] == pytest.approx(24.0)
    assert per_request["PostgreSQL"] == pytest.approx(6.0)
    assert per_request["wrk"] == pytest.approx(2.0)
    assert per_request["nginx"] == 0.0
    assert per_request["total"] == pytest.approx(32.0)
    assert split.per_request_ms(0) == {}


def test_runs_summed_add_their_seconds_and_weigh_how_busy_the_cores_were_by_duration():
    first = CpuSplit({"gunicorn": 30.0, "PostgreSQL": 6.0}, busy_share=1.0)
    second = CpuSplit({"gunicorn": 10.0, "nginx": 1.0}, busy_share=0.5)

    summed = cpu_sum([(first, 30.0), (second, 10.0)])

    assert summed.seconds["gunicorn"] == pytest.approx(40.0)
    assert summed.seconds["PostgreSQL"] == pytest.approx(6.0)
    assert summed.seconds["nginx"] == pytest.approx(1.0)
    assert summed.seconds["wrk"] == 0.0
    assert summed.busy_share == pytest.approx((30 * 1.0 + 10 * 0.5) / 40)
    assert cpu_sum([]) == CpuSplit(dict.fromkeys(summed.seconds, 0.0), 0.0)
