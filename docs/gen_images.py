"""Make the pictures and command outputs the docs show, by running the real commands.

Run from the repository root after changing what a command prints or draws:

    .venv/bin/python docs/gen_images.py

It needs Graphviz's `dot` and the `graph` and `plot` extras (all in `make test`'s
setup). Everything lands in docs/generated/, which the pages include; nothing
there is written by hand. tests/test_docs_generated.py checks that the outputs
that do not depend on timing are current.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "generated"
SEED = "examples/ladders/solopreneur.yaml"
BROKEN = "tests/broken_ladders"


def run(*args: str, cwd: Path = ROOT, bar_first: bool = False) -> str:
    """``commitladder ARGS`` as a user types it: stdout, then stderr (a summary), or with
    ``bar_first`` stderr first (a progress bar, shown while the command works)."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run(
        [sys.executable, "-m", "commitladder", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"commitladder {' '.join(args)} failed:\n{result.stderr}")
    text = result.stderr + result.stdout if bar_first else result.stdout + result.stderr
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def text_outputs() -> dict[str, str]:
    """The deterministic outputs: the same on every machine, so a test can pin them."""
    return {
        "check.txt": "$ commitladder check tests/broken_ladders/trapped.yaml "
        "tests/broken_ladders/smells.yaml\n"
        + run("check", f"{BROKEN}/trapped.yaml", f"{BROKEN}/smells.yaml"),
        "check.json": run("check", "--format", "json", f"{BROKEN}/trapped.yaml"),
        "solopreneur.mmd": run("graph", SEED),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in text_outputs().items():
        (OUT / name).write_text(text, encoding="utf-8")
    run("graph", SEED, "-o", str(OUT / "solopreneur.svg"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        demo = run("demo", "--out", "commitladder-demo", cwd=work, bar_first=True)
        (OUT / "demo.txt").write_text("$ commitladder demo\n" + demo, encoding="utf-8")
        db = work / "commitladder-demo" / "demo.db"
        shutil.copy(work / "commitladder-demo" / "solopreneur.svg", OUT / "solopreneur-live.svg")
        funnel = run("funnel", "--db", str(db))
        (OUT / "funnel.txt").write_text(
            "$ commitladder funnel --db commitladder-demo/demo.db\n" + funnel, encoding="utf-8"
        )
        csv = run("funnel", "--db", str(db), "--format", "csv")
        (OUT / "funnel.csv").write_text(csv, encoding="utf-8")
        run("funnel", "--db", str(db), "--format", "png", "-o", str(OUT / "funnel.png"))
        sim = run(
            "simulate",
            "examples/ladders/saas_trial.yaml",
            *("-n", "300", "--seed", "7", "--db", str(work / "sim.db")),
            bar_first=True,
        )
        sim = re.sub(re.escape(str(work)) + r"/", "", sim)
        (OUT / "simulate.txt").write_text(
            "$ commitladder simulate examples/ladders/saas_trial.yaml -n 300 --seed 7 "
            "--db sim.db\n" + sim,
            encoding="utf-8",
        )
    for path in sorted(OUT.iterdir()):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
