"""Nothing in the project names a path outside the repository.

A clone with nothing beside it must pass its tests and run: the reference folder
that sits beside the repository on the development machine is reference only.
The examples the tests need are copied under `tests/fixtures/api-samples/` (see
`tests/api_samples.py`). This test fails on any file under tests/, pmo_sync/,
connectors/ or bench/ that names that folder, absolutely, relatively, or through
`Path(__file__).parents[N]`, and names the file and line of each.

(The patterns below spell "shared" with a character class so that this file does
not match itself.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "pmo_sync", "connectors", "bench")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
OUTSIDE = re.compile(
    r"/work/[s]hared"  # the absolute path on the development machine
    r"|[s]hared/api-"  # the api-samples folder, however it is reached
    r"|\.\./[s]hared"  # relative to the repository
    r"""|parents\[\d+\]\s*/\s*["'][s]hared["']"""  # Path(__file__).parents[N] / "shared"
)


def scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            relative = path.relative_to(ROOT)
            if path.is_file() and not SKIPPED_DIRS.intersection(relative.parts[:-1]):
                files.append(path)
    return files


def test_the_scan_sees_the_project() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in scanned_files()}
    assert {"tests/conftest.py", "pmo_sync/cli/common.py", "bench/soak.py"} <= names
    assert "tests/fixtures/api-samples/README.md" in names


def test_the_pattern_catches_each_way_of_reaching_outside() -> None:
    shared = "sha" + "red"
    for line in (
        f'SAMPLES = Path("/work/{shared}/api-samples/jira")',
        f'Path(__file__).resolve().parents[4] / "{shared}" / "api-samples"',
        f"see ../{shared}/DESIGN.md",
        f"(`{shared}/api-samples/trello/`, beside the repository)",
    ):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search('API_SAMPLES = ROOT / "tests" / "fixtures" / "api-samples"')


def test_no_file_names_a_path_outside_the_repository() -> None:
    offences = []
    for path in scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text (no such file today); nothing it holds is read as a path
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                where = path.relative_to(ROOT).as_posix()
                offences.append(f"{where}:{number}: {line.strip()}")
    assert not offences, (
        "these lines name a path outside the repository (copy what a test needs under "
        "tests/fixtures/api-samples/ and read it through tests/api_samples.py):\n"
        + "\n".join(offences)
    )
