"""Watch a route's next hops on the scale-out lab's upstream router: every 20 ms until DONE_FILE
appears, print nothing; then one JSON line: each change as [unix time, sorted gateways]."""

import json
import subprocess
import sys
import time
from pathlib import Path


def gateways(prefix):
    shown = subprocess.run(["ip", "-j", "route", "show", prefix], capture_output=True,
                           text=True, check=False).stdout
    routes = json.loads(shown or "[]")
    found = []
    for route in routes:
        found += [hop.get("gateway") for hop in route.get("nexthops", [])]
        if route.get("gateway"):
            found.append(route["gateway"])
    return sorted(found)


def main():
    prefix, done = sys.argv[1], Path(sys.argv[2])
    changes, last = [], None
    while not done.exists():
        now = gateways(prefix)
        if now != last:
            changes.append([time.time(), now])
            last = now
        time.sleep(0.02)
    print(json.dumps(changes), flush=True)


if __name__ == "__main__":
    main()
