"""Runs one measurement and says how busy the machine was meanwhile (bench/train.sh).

    python3 bench/train/measure.py OUT.json CPU -- COMMAND...

COMMAND's output goes to stdout. OUT.json gets the 1-minute load average before and after,
and the share of CPU `CPU` (the one the command is pinned to) and of the whole machine that
other processes used during the run: busy time from /proc/stat minus the command's own CPU
time (its rusage, children included).
"""
import json
import os
import resource
import subprocess
import sys
import time


def stat(cpu):
    """(busy, total) jiffies of the machine and of CPU `cpu`."""
    rows = {}
    for line in open("/proc/stat"):
        if line.startswith("cpu"):
            name, *v = line.split()
            v = [int(x) for x in v[:8]]  # user nice system idle iowait irq softirq steal
            rows[name] = (sum(v) - v[3] - v[4], sum(v))
    return rows["cpu"], rows[f"cpu{cpu}"]


out, cpu, sep, *cmd = sys.argv[1:]
assert sep == "--" and cmd, __doc__
cpu = int(cpu)
hz = os.sysconf("SC_CLK_TCK")
load0 = os.getloadavg()[0]
(m_busy0, m_total0), (c_busy0, c_total0) = stat(cpu)
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
rc = subprocess.call(cmd)
wall = time.monotonic() - t0
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
(m_busy1, m_total1), (c_busy1, c_total1) = stat(cpu)
load1 = os.getloadavg()[0]
own = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * hz  # jiffies
json.dump(
    {
        "rc": rc,
        "wall_s": round(wall, 2),
        "load1_before": load0,
        "load1_after": load1,
        "other_on_cpu": round(max(0.0, (c_busy1 - c_busy0 - own) / max(1, c_total1 - c_total0)), 3),
        "other_on_machine": round(max(0.0, (m_busy1 - m_busy0 - own) / max(1, m_total1 - m_total0)), 3),
    },
    open(out, "w"),
)
sys.exit(rc)
