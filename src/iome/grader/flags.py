"""What a submission tried, in words for the instructor ("Submissions to look at").

Inputs: the kernel's audit events (:mod:`iome.grader.guard`), the executed cells' error outputs,
and how the sandbox ended. Each flag is one short sentence; a submission with any flag is listed.
"""

from __future__ import annotations

LABELS = {
    "hook": "installed an audit hook",
    "trace": "set a trace or profile function",
    "fork": "forked a process",
    "process": "started a process",
    "socket": "used the network",
    "signal": "sent a signal",
    "native": "called the C library through ctypes",
    "denied path": "tried to open paths outside its sandbox",
    "filesystem search": "listed folders outside its work folder",
    "restored": "changed what the tests rely on (put back before the tests)",
}

LIMIT_ERRORS = {
    "MemoryError": "hit the memory limit",
    "CellTimeoutError": "hit the per-cell time limit",
    "TimeoutError": "hit the per-cell time limit",
}


def from_events(events: list) -> list[str]:
    by_kind: dict[str, list[str]] = {}
    for kind, detail in events:
        if kind in LABELS:
            by_kind.setdefault(kind, []).append(detail)
    out = []
    for kind, details in by_kind.items():
        shown = sorted({d for d in details if d})[:4]
        more = len(set(details)) - len(shown)
        out.append(f"look at: {LABELS[kind]}" + (f" ({', '.join(shown)}{f', +{more} more' if more > 0 else ''})"
                                                   if shown else ""))
    return out


def from_outputs(cells: list) -> list[str]:
    """Limits hit, read from the error outputs of the executed cells."""
    hits = set()
    for cell in cells:
        for o in cell.get("outputs", []) if isinstance(cell, dict) else []:
            if not isinstance(o, dict):
                continue
            if o.get("output_type") == "stream":  # a limit error the notebook caught and printed
                ename, evalue = "", str(o.get("text", ""))[:100_000]
            elif o.get("output_type") == "error":
                ename, evalue = str(o.get("ename", "")), str(o.get("evalue", ""))
            else:
                continue
            if ename in LIMIT_ERRORS:
                hits.add(LIMIT_ERRORS[ename])
            elif "Resource temporarily unavailable" in evalue and ename in ("BlockingIOError", "OSError", ""):
                hits.add("hit the process limit")
            elif "File too large" in evalue:
                hits.add("hit the file-size limit")
            elif "No space left on device" in evalue:
                hits.add("hit the disk limit")
    return [f"look at: {h}" for h in sorted(hits)]
