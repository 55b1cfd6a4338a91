"""Every ```python block of README.md and docs/*.md runs, against the emulator.

The convention for writers: a block right after a line ``<!-- not-run -->`` is a fragment
and is skipped; every other ```python block must run as a script. Each runs in its own
Python process, in a directory that holds a Flask config module ``settings.py``
(``SPANNER_PROJECT``/``SPANNER_INSTANCE``/``SPANNER_DATABASE``), with
``SPANNER_EMULATOR_HOST`` and ``GOOGLE_CLOUD_PROJECT=my-project`` set, and with the emulator
holding, fresh for each block, instance ``main`` of project ``my-project`` with the
databases ``app`` (table ``notes``: ``id``, ``body``, ``created``) and ``events`` (table
``events``). A failure names the file and the line of the block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from spanner_pools.emulator import Emulator, drop_database, provision

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = "<!-- not-run -->"
PROJECT, INSTANCE = "my-project", "main"
DATABASES = {
    "app": [
        "CREATE TABLE notes (id STRING(64) NOT NULL, body STRING(MAX),"
        " created TIMESTAMP OPTIONS (allow_commit_timestamp=true)) PRIMARY KEY (id)"
    ],
    "events": ["CREATE TABLE events (id STRING(64) NOT NULL, kind STRING(64)) PRIMARY KEY (id)"],
}
FLASK_SETTINGS = (
    f'SPANNER_PROJECT = "{PROJECT}"\nSPANNER_INSTANCE = "{INSTANCE}"\nSPANNER_DATABASE = "app"\n'
)
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\S*)")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    skipped: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python (or ```py) blocks of one Markdown file, with the fence's line number."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if lang.lower() in ("python", "py", "python3"):
            previous = next(
                (lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), ""
            )
            body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
            blocks.append(Block(path, i + 1, "\n".join(body) + "\n", previous == NOT_RUN))
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [block for path in files for block in python_blocks(path)]


BLOCKS = all_blocks()


def test_the_extractor_sees_the_documented_blocks() -> None:
    """Guards against a parser bug that would make every block 'pass' by finding none."""
    readme = [b for b in BLOCKS if b.path.name == "README.md" and not b.skipped]
    assert len(readme) >= 3, [b.where for b in BLOCKS]
    assert any("PoolManager(settings)" in b.code for b in readme)


@pytest.fixture
def docs_databases(emulator: Emulator) -> str:
    """Fresh ``app`` and ``events`` databases in ``my-project``/``main``; the emulator host."""
    for name, ddl in DATABASES.items():
        drop_database(emulator.host, project=PROJECT, instance=INSTANCE, database=name)
        provision(emulator.host, project=PROJECT, instance=INSTANCE, database=name, ddl=ddl)
    return emulator.host


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_code_block_runs(block: Block, docs_databases: str, tmp_path: Path) -> None:
    if block.skipped:
        pytest.skip(f"{block.where}: marked {NOT_RUN}")
    (tmp_path / "settings.py").write_text(FLASK_SETTINGS)
    script = tmp_path / "block.py"
    # Line numbers in a traceback point at the Markdown file: pad to the fence's line.
    script.write_text("\n" * block.line + block.code)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPANNER_", "DJANGO_")) or k == "SPANNER_EMULATOR_BIN"
    }
    env.update(
        SPANNER_EMULATOR_HOST=docs_databases,
        GOOGLE_CLOUD_PROJECT=PROJECT,
        SPANNER_DISABLE_BUILTIN_METRICS="true",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
    )
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: the code block did not finish within 180 s")
    if done.returncode != 0:
        output = (done.stdout + done.stderr).replace(str(script), str(block.path))
        pytest.fail(
            f"{block.where}: the code block failed (exit {done.returncode}); mark a fragment "
            f"with a '{NOT_RUN}' line before its fence.\n{output[-4000:]}",
            pytrace=False,
        )
