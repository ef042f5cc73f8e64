"""CI: the built wheel is a whole package that works on its own.

Usage: python .ci/check_package.py DIST  (DIST holds one wheel and one sdist, as
``python -m build`` writes them).

1. Every file git tracks under ``src/commitladder/`` is in the wheel and in the sdist
   (the seed ladder, ``py.typed``, the Django migrations ... not only the ``.py`` files).
2. The wheel installs, with the ``cli`` extra, into a fresh virtual environment.
3. From a directory outside the checkout, the installed command answers and runs the
   demo walk on the seed ladder it ships.
4. From the checkout (whose ``src/`` layout keeps the source off ``sys.path``), the
   README's quickstart snippet runs on the installed package and prints its Output block.

Exits 1 with what is wrong. It never reads the checkout's ``src/`` as code.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fail(message: str) -> None:
    sys.exit(f"check_package: {message}")


def run(argv: list[str], *, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        fail(f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def tracked_package_files() -> set[str]:
    listed = run(["git", "ls-files", "src/commitladder"], cwd=ROOT).split()
    return {name.removeprefix("src/") for name in listed}


def readme_quickstart() -> tuple[str, str]:
    """The README's first python block and the Output block right after it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"```python\n(?P<code>.*?)```\s*```text title=\"Output\"\n(?P<out>.*?)```", text, re.S
    )
    if found is None:
        fail("README.md has no python block followed by an Output block")
    return found["code"], found["out"]


def main() -> None:
    dist = Path(sys.argv[1]).resolve()
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
    wheel, sdist = wheels[0], sdists[0]

    expected = tracked_package_files()
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = set(zf.namelist())
    with tarfile.open(sdist) as tf:
        in_sdist = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    missing = sorted(expected - in_wheel)
    if missing:
        fail(f"{wheel.name} lacks {len(missing)} packaged files: {missing}")
    missing = sorted(f"src/{name}" for name in expected if f"src/{name}" not in in_sdist)
    if missing:
        fail(f"{sdist.name} lacks {len(missing)} source files: {missing}")
    print(f"check_package: {wheel.name} and {sdist.name} hold all {len(expected)} files")

    with tempfile.TemporaryDirectory(prefix="commitladder-wheel-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        run([str(python), "-m", "pip", "install", "-q", f"{wheel}[cli]"], cwd=Path(tmp))

        elsewhere = Path(tmp) / "elsewhere"
        elsewhere.mkdir()
        version = run([str(env_dir / "bin" / "commitladder"), "--version"], cwd=elsewhere)
        if wheel.name.split("-")[1] not in version:
            fail(f"commitladder --version says {version.strip()!r}, not the wheel's version")
        helped = run([str(env_dir / "bin" / "commitladder"), "--help"], cwd=elsewhere)
        if "validate" not in helped:
            fail(f"commitladder --help does not list its commands:\n{helped}")
        walk = run([str(env_dir / "bin" / "commitladder"), "demo", "--walk"], cwd=elsewhere)
        if "solopreneur" not in walk:
            fail(f"commitladder demo --walk did not walk the seed ladder:\n{walk}")
        where = run(
            [str(python), "-c", "import commitladder; print(commitladder.__file__)"], cwd=ROOT
        )
        installed = Path(where.strip())
        if env_dir not in installed.parents:
            fail(f"the snippet would import {installed}, not the installed wheel")
        if not (installed.parent / "py.typed").is_file():
            fail("the installed package has no py.typed")

        code, output = readme_quickstart()
        printed = run([str(python), "-c", code], cwd=ROOT)
        if printed.strip() != output.strip():
            fail(f"README's quickstart printed\n{printed}\ninstead of\n{output}")
    print("check_package: the wheel installs, runs its command and the README quickstart")


if __name__ == "__main__":
    main()
