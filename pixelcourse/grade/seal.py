"""Seal a grading kernel in: run as ``python seal.py BOX -- COMMAND...`` inside fresh Linux namespaces.

``sandbox`` starts this file (a plain script: it imports nothing from the package, so it starts at once)
with ``unshare --mount --pid --net``. Before it runs COMMAND (the kernel), it makes every mount read-only
except the temporary folder BOX, puts an empty private /dev/shm in place, and drops every capability,
so the kernel cannot undo any of it. It fails closed: if one writable mount cannot be made read-only,
it exits with status 3 and the kernel never starts.
"""

from __future__ import annotations

import os
import subprocess
import sys

KEPT_FLAGS = ("nosuid", "nodev", "noexec", "relatime", "noatime", "nodiratime", "strictatime")


def mounts() -> dict[str, list[str]]:
    """Mount point -> per-mount options, for the mount visible at each point (the last one mounted there)."""
    found = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as file:
        for line in file:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as \040
            found[point] = fields[5].split(",")
    return found


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def seal(box: str) -> list[str]:
    """Make everything read-only but ``box``; returns the mount points that stayed writable."""
    if not (mount("--make-rprivate", "/") and mount("--bind", box, box)):
        return ["/ (mount namespace not usable)"]
    if os.path.isdir("/dev/shm"):
        mount("-t", "tmpfs", "-o", "size=256m,mode=1777", "tmpfs", "/dev/shm")  # private: gone with the namespace
    writable = []
    for point, options in mounts().items():
        if point in (box, "/dev/shm") or "ro" in options:
            continue
        kept = [flag for flag in options if flag in KEPT_FLAGS]  # flags a user namespace may not drop
        if not mount("-o", ",".join(["remount", "bind", "ro", *kept]), point):
            writable.append(point)
    still = [point for point, options in mounts().items() if point not in (box, "/dev/shm") and "ro" not in options]
    return sorted(set(writable) | set(still))


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: seal.py BOX -- COMMAND...", file=sys.stderr)
        return 2
    box, command = os.path.realpath(argv[0]), argv[2:]
    writable = seal(box)
    if writable:
        print(f"seal: cannot make read-only: {', '.join(writable)}", file=sys.stderr)
        return 3
    drop = ["setpriv", "--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]
    os.execvp(drop[0], drop + command)
    return 3  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
