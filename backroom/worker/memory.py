"""How much memory this process holds, for recycling a worker above a ceiling."""

import os
import resource
import sys


def resident_bytes() -> int:
    """Return the resident set size now (Linux), or the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
