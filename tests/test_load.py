"""cl.load reads a regular file, at most max_bytes of it whatever the file system says, never
waits on a pipe, and says plainly when there is no file at all."""

from __future__ import annotations

import errno
import os
import pickle
import sys
import threading
import time
from pathlib import Path

import pytest

import commitladder as cl
from support import GUARDS_YAML

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev are POSIX")


def load_within(seconds: float, path: str | Path, **options: int) -> BaseException | None:
    """Run ``cl.load(path)`` in a thread; fail (instead of hanging) if it does not return."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            cl.load(path, **options)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"cl.load({str(path)!r}) did not return within {seconds} s"
    return outcome[0]


def test_a_missing_file_is_both_a_definition_error_and_a_file_not_found_error(
    tmp_path: Path,
) -> None:
    """Regression: cl.load('missing.yaml') raised a DefinitionError only."""
    path = tmp_path / "missing.yaml"
    with pytest.raises(FileNotFoundError) as exc:
        cl.load(path)
    error = exc.value
    assert isinstance(error, cl.DefinitionError)
    assert isinstance(error, cl.LadderFileNotFoundError)
    assert (error.errno, error.filename) == (errno.ENOENT, str(path))
    assert str(path) in str(error)
    assert "no file" in str(error)
    (problem,) = error.problems
    assert problem.source == str(path)


def test_a_missing_file_is_caught_by_a_plain_definition_error_handler(tmp_path: Path) -> None:
    with pytest.raises(cl.DefinitionError, match="check the path"):
        cl.load(tmp_path / "nope.yaml")


def test_the_missing_file_error_survives_pickling(tmp_path: Path) -> None:
    with pytest.raises(cl.LadderFileNotFoundError) as exc:
        cl.load(tmp_path / "gone.yaml")
    again = pickle.loads(pickle.dumps(exc.value))
    assert str(again) == str(exc.value)
    assert again.filename == exc.value.filename


def test_a_directory_is_refused_with_what_it_is(tmp_path: Path) -> None:
    with pytest.raises(cl.DefinitionError, match="this is a directory, not a file"):
        cl.load(tmp_path)


@posix_only
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Regression: opening a FIFO for reading blocks until someone writes to it."""
    fifo = tmp_path / "ladder.yaml"
    os.mkfifo(fifo)
    error = load_within(10, fifo)
    assert isinstance(error, cl.DefinitionError)
    assert "named pipe (FIFO)" in str(error)


@posix_only
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_at_once() -> None:
    """Regression: stat() says /dev/zero is 0 bytes, and reading it never ends."""
    started = time.perf_counter()
    error = load_within(10, "/dev/zero")
    assert isinstance(error, cl.DefinitionError)
    assert "character device" in str(error)
    assert time.perf_counter() - started < 5


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="no Linux /proc here")
def test_a_file_bigger_than_its_stat_size_is_read_only_up_to_the_limit() -> None:
    """/proc files are regular files whose stat() size is 0, whatever they hold."""
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(cl.DefinitionError, match="holds more than 100 bytes, the limit"):
        cl.load("/proc/self/status", max_bytes=100)


def test_a_file_over_max_bytes_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(GUARDS_YAML)
    size = path.stat().st_size
    with pytest.raises(cl.DefinitionError, match=f"the file is {size:,} bytes, over the limit"):
        cl.load(path, max_bytes=100)
    assert cl.load(path, max_bytes=size).name == "guards"


def test_a_path_with_a_nul_byte_is_a_definition_error() -> None:
    with pytest.raises(cl.DefinitionError, match="cannot read the file"):
        cl.load("lad\0der.yaml")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads files whatever their mode"
)
def test_an_unreadable_file_says_why(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(GUARDS_YAML)
    path.chmod(0)
    with pytest.raises(cl.DefinitionError, match="Permission denied"):
        cl.load(path)


def test_a_ladder_file_loads_with_its_path_as_source(tmp_path: Path) -> None:
    path = tmp_path / "guards.yaml"
    path.write_text(GUARDS_YAML.replace("size: 4", "size: 11"))
    with pytest.raises(cl.DefinitionError) as exc:
        cl.load(path)
    assert str(exc.value.problems[0]).startswith(f"{path}:")
