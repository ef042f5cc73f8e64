"""How long ``import commitladder`` takes, against ``import transitions`` + ``import pydantic``.

Each figure is the median over fresh Python processes, so nothing is cached in
``sys.modules``; the sides take turns, process by process, so a change in the machine's
load hits them alike. Each process times its own import with ``perf_counter`` (the
interpreter's start-up is the same on every side and is left out). The target (issue
12, item 10): ``import commitladder`` within 1.5x of ``import transitions`` + ``import
pydantic``, measured in the same run.

    python benchmarks/_import_time.py           # 10 processes per side
    python benchmarks/_import_time.py --runs 30

``bench_core.py`` calls :func:`import_times` for its row.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from dataclasses import dataclass

__all__ = ["TARGET", "ImportTimes", "import_times"]

#: ``import commitladder`` may take at most this times the baseline.
TARGET = 1.5

# what each side imports, in one fresh process
SIDES = {
    "commitladder": ("commitladder",),
    "transitions": ("transitions",),
    "pydantic": ("pydantic",),
    "baseline": ("transitions", "pydantic"),  # both, in one process: what the target names
}


@dataclass(frozen=True)
class ImportTimes:
    """Median import times in milliseconds, each over ``runs`` fresh processes."""

    commitladder: float
    transitions: float
    pydantic: float
    baseline: float  # transitions and pydantic imported in one process
    runs: int

    @property
    def ratio(self) -> float:
        """``import commitladder`` over ``import transitions`` + ``import pydantic``."""
        return self.commitladder / self.baseline

    @property
    def met(self) -> bool:
        return self.ratio <= TARGET

    def rows(self) -> list[tuple[str, str]]:
        """The figures as (label, value) rows for a table."""
        return [
            ("import commitladder", f"{self.commitladder:.1f} ms"),
            ("import transitions", f"{self.transitions:.1f} ms"),
            ("import pydantic", f"{self.pydantic:.1f} ms"),
            ("import transitions + pydantic", f"{self.baseline:.1f} ms"),
            (
                "commitladder / (transitions + pydantic)",
                f"{self.ratio:.2f}x (target <= {TARGET}x: {'met' if self.met else 'MISSED'})",
            ),
        ]


def _one(modules: tuple[str, ...], python: str) -> float:
    """Milliseconds one fresh process spends importing ``modules``."""
    code = (
        "import time\n"
        "t = time.perf_counter()\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print((time.perf_counter() - t) * 1000)\n"
    )
    # -I: isolated from the environment and the current directory, so the installed
    # package is what gets imported, as a user's process would
    out = subprocess.check_output([python, "-I", "-c", code], text=True)
    return float(out.strip().splitlines()[-1])


def import_times(*, runs: int = 10, python: str = sys.executable) -> ImportTimes:
    """Median import times over ``runs`` fresh processes per side, the sides in turn."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    samples: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(runs):
        for side, modules in SIDES.items():
            samples[side].append(_one(modules, python))
    medians = {side: statistics.median(values) for side, values in samples.items()}
    return ImportTimes(**medians, runs=runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per side")
    args = parser.parse_args(argv)
    times = import_times(runs=args.runs)
    width = max(len(label) for label, _ in times.rows())
    print(f"median of {times.runs} fresh processes per side, {sys.version.split()[0]}")
    for label, value in times.rows():
        print(f"{label:<{width}}  {value}")
    return 0 if times.met else 1


if __name__ == "__main__":
    sys.exit(main())
