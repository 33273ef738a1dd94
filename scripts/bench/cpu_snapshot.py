#!/usr/bin/env python3
"""Prints `<machine busy jiffies> <jiffies of process group PGID> <uptime jiffies>`.

The process group's figure counts live members (user+system, plus the
children they have already waited for), so the benchmark can tell how much
CPU *other* processes on the machine used while it measured:
foreign = delta(busy) - delta(ours).
"""

import os
import sys

pgid = int(sys.argv[1])
with open("/proc/stat") as f:
    cpu = [int(x) for x in f.readline().split()[1:]]
idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
busy = sum(cpu[:8]) - idle  # user nice system idle iowait irq softirq steal
total = sum(cpu[:8])
ours = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    # fields[0] is state (field 3); pgrp is field 5; utime..cstime are fields 14-17.
    if int(fields[2]) == pgid:
        ours += sum(int(x) for x in fields[11:15])
print(busy, ours, total)
