# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in lvsd for pulse's tests: reports READY on --ready-fd, notes each SIGHUP in
$LVS_CLUSTER_RUN_DIR/fake-lvsd.log, exits 0 on SIGTERM, and exits when its parent is gone
(a SIGKILLed pulse must not leave it behind).

With $FAKE_LVSD_VIRTUALS naming a JSON file, it also writes lvsd.json every 0.1 s as lvsd does
(its pid, ``updated``), with that file's content as ``virtuals`` (the test edits it to make
servers healthy or not; a missing file: no status written)."""

import json
import os
import signal
import sys
import time


def note(text):
    directory = os.environ.get("LVS_CLUSTER_RUN_DIR", ".")
    with open(os.path.join(directory, "fake-lvsd.log"), "a") as stream:
        stream.write(f"{os.getpid()} {text}\n")


def write_status(virtuals_path):
    try:
        with open(virtuals_path) as stream:
            virtuals = json.load(stream)
    except (OSError, ValueError):
        return
    directory = os.environ.get("LVS_CLUSTER_RUN_DIR", ".")
    document = {"pid": os.getpid(), "updated": time.time(), "ready": True, "virtuals": virtuals}
    temporary = os.path.join(directory, f".lvsd.json.{os.getpid()}")
    with open(temporary, "w") as stream:
        json.dump(document, stream)
    os.replace(temporary, os.path.join(directory, "lvsd.json"))


def main():
    args = sys.argv[1:]
    ready_fd = int(args[args.index("--ready-fd") + 1])
    signal.signal(signal.SIGHUP, lambda *_: note("HUP"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    note("start " + " ".join(args))
    os.write(ready_fd, b"READY\n")
    os.close(ready_fd)
    parent = os.getppid()
    # pulse may have died before the line above ran: then the parent is already init (one
    # such fake ran on, orphaned, for an hour)
    virtuals_path = os.environ.get("FAKE_LVSD_VIRTUALS")
    while os.getppid() == parent and parent != 1:
        if virtuals_path:
            write_status(virtuals_path)
        time.sleep(0.1 if virtuals_path else 0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
