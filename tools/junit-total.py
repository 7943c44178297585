"""One closing line for `make test`: 'tests: N passed, N failed[, N skipped]'.

Sums the pytest JUnit reports given as paths, and counts each stage given as NAME=ok or
NAME=failed (the stages that are not pytest: lint, sanity, build) as one check.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(paths: list[str]) -> int:
    passed = failed = skipped = 0
    for path in paths:
        if "=" in path:
            ok = path.split("=", 1)[1] == "ok"
            passed += ok
            failed += not ok
            continue
        if not Path(path).is_file():
            continue
        root = ET.parse(path).getroot()
        for suite in root.iter("testsuite"):
            tests = int(suite.get("tests", 0))
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            passed += tests - bad - skip
            failed += bad
            skipped += skip
    line = f"tests: {passed} passed, {failed} failed"
    print(line + (f", {skipped} skipped" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
