"""Where a load test's CPU goes: the CPU time of every process on this machine, read from
``/proc`` before and after a run, summed by kind (gunicorn, PostgreSQL, nginx, Redis, the load
generator, the rest).

A page's requests per second on a machine whose cores are all busy is its cores' time divided
by the CPU one request costs in every process it crosses, not in Django alone: this says how
much of that is the web processes' and how much the database's, the proxy's and the load
generator's. Linux only (it reads ``/proc``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The kinds, in the order a report shows them.
KINDS = ("gunicorn", "PostgreSQL", "nginx", "Redis", "Celery", "wrk", "other")


def process_kind(comm: str, cmdline: str) -> str:
    """The kind of a process, from its name (``comm``) and its command line."""
    if "gunicorn" in cmdline:
        return "gunicorn"
    if "celery" in cmdline:
        return "Celery"
    if comm == "postgres" or cmdline.startswith("postgres:"):
        return "PostgreSQL"
    if comm == "nginx":
        return "nginx"
    if comm.startswith("redis-server"):
        return "Redis"
    if comm == "wrk":
        return "wrk"
    return "other"


@dataclass(frozen=True)
class Times:
    """One process's CPU seconds (user + system): its own, and its children's that it has
    reaped (a gunicorn worker recycled after ``max_requests`` ends up in its master's, a
    database connection closed in the postmaster's, the load generator in this process's)."""

    kind: str
    own: float
    children: float


@dataclass(frozen=True)
class Snapshot:
    """The CPU times of each process alive at one moment, by (pid, start time) so that a reused
    pid is not taken for the same process; the whole machine's busy and total time; and which
    process took the snapshot (its reaped children are the load generator's)."""

    processes: dict[tuple[int, int], Times]
    machine_busy: float
    machine_total: float
    self_pid: int


def snapshot(proc: Path = Path("/proc")) -> Snapshot:
    """Every process's CPU times now."""
    ticks = os.sysconf("SC_CLK_TCK")
    processes: dict[tuple[int, int], Times] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended while being read
            continue
        # "pid (comm) state ...": comm may hold spaces and parentheses, so split at the last ")"
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = [int(value) for value in stat[stat.rindex(")") + 4 :].split()]
        # fields[0] is ppid (field 4 of proc(5)): utime is field 14, stime 15, cutime 16,
        # cstime 17, starttime 22
        processes[(int(entry.name), fields[18])] = Times(
            kind=process_kind(comm, cmdline),
            own=(fields[10] + fields[11]) / ticks,
            children=(fields[12] + fields[13]) / ticks,
        )
    busy, total = _machine(proc / "stat", ticks)
    return Snapshot(processes, busy, total, os.getpid())


def _machine(stat: Path, ticks: int) -> tuple[float, float]:
    """The machine's busy and total CPU seconds since boot (all cores; idle and iowait are not
    busy), from the first line of /proc/stat."""
    for line in stat.read_text().splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice: in user already]
            total = sum(values[:8])
            return (total - values[3] - values[4]) / ticks, total / ticks
    return 0.0, 0.0


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds spent by each kind of process between two snapshots, and how busy the
    machine's cores were (0 to 1)."""

    seconds: dict[str, float]
    busy_share: float

    def per_request_ms(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request, by kind, and their ``total``."""
        if requests <= 0:
            return {}
        split = {kind: self.seconds.get(kind, 0.0) * 1000 / requests for kind in KINDS}
        split["total"] = sum(split.values())
        return split


def cpu_sum(splits: list[tuple[CpuSplit, float]]) -> CpuSplit:
    """Several runs' splits as one: (split, the run's wall seconds) each. The seconds add up;
    how busy the cores were is the runs' average, weighted by how long each lasted."""
    seconds: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    for split, _wall in splits:
        for kind, spent in split.seconds.items():
            seconds[kind] = seconds.get(kind, 0.0) + spent
    wall = sum(wall for _split, wall in splits)
    busy = sum(split.busy_share * wall for split, wall in splits) / wall if wall > 0 else 0.0
    return CpuSplit(seconds, busy)


def cpu_split(before: Snapshot, after: Snapshot, *, finished_child: str = "wrk") -> CpuSplit:
    """What each kind of process spent between ``before`` and ``after``.

    A process that ended in between counts by what its parent reaped (its whole life), less
    what it had spent at ``before``: so a recycled gunicorn worker, or a database connection
    closed during the run, still counts, as the parent's kind. What this process reaped is
    ``finished_child``'s: the load generator it ran to its end."""
    seconds: dict[str, float] = dict.fromkeys(KINDS, 0.0)

    def add(kind: str, spent: float) -> None:
        seconds[kind] = seconds.get(kind, 0.0) + spent

    for key, times in after.processes.items():
        earlier = before.processes.get(key)
        add(times.kind, times.own - (earlier.own if earlier else 0.0))
        reaped = times.children - (earlier.children if earlier else 0.0)
        add(finished_child if key[0] == after.self_pid else times.kind, reaped)
    for key, times in before.processes.items():
        if key not in after.processes:
            add(times.kind, -times.own)
    total = after.machine_total - before.machine_total
    busy = (after.machine_busy - before.machine_busy) / total if total > 0 else 0.0
    return CpuSplit(seconds, busy)
