"""Count the hostile and broken inputs the test suite tries, per class and per loader, and the result.

    python scripts/hostile_inputs.py            # the default suite's share (a few seconds per loader)
    python scripts/hostile_inputs.py --slow     # + 2,000 generated inputs per loader and the crash tests

Runs ``tests/test_hostile_inputs.py`` (hand-built cases through the CLI, per class) and
``tests/test_fuzz_hostile.py`` (hypothesis, per loader) and prints their tallies and pytest's result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", action="store_true",
                        help="also run the slow tests: 2,000 fuzzed inputs per loader, the crash/race tests")
    args = parser.parse_args()
    tests = ["tests/test_hostile_inputs.py", "tests/test_fuzz_hostile.py"]
    if args.slow:
        tests.append("tests/test_crash_safety.py")
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-m",
           "slow or not slow" if args.slow else "not slow", *tests]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    keep = False
    for line in proc.stdout.splitlines():
        if line.startswith(("hostile inputs per class", "hostile fuzzing")):
            keep = True
        elif keep and not line.startswith("  "):
            keep = False
        if keep or " passed" in line or " failed" in line or line.startswith("FAILED"):
            print(line)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
