"""The wheel installs only the library and its adapters; the sdist has everything to test it.

Both are built here with hatchling (the build backend, in the ``dev`` extra) from this
checkout, without network.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import spanner_pools

ROOT = Path(__file__).resolve().parent.parent
BUILD = (
    "import sys; from hatchling.build import build_sdist, build_wheel; "
    "print(build_wheel(sys.argv[1])); print(build_sdist(sys.argv[1]))"
)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) built from this checkout."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    wheel, sdist = done.stdout.split()[-2:]
    return out / wheel, out / sdist


def test_version_has_one_source() -> None:
    assert spanner_pools.__version__ == importlib.metadata.version("spanner-pools")


def test_wheel_installs_only_the_library(artifacts: tuple[Path, Path]) -> None:
    wheel, _ = artifacts
    assert wheel.name == f"spanner_pools-{spanner_pools.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"spanner_pools-{spanner_pools.__version__}.dist-info"
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
    top = {name.split("/")[0] for name in names}
    assert top == {"spanner_pools", "flask_ext", "django_app", info}, sorted(top)
    assert "spanner_pools/pytest_plugin.py" in names
    assert "django_app/test.py" in names
    assert "spanner_pools/py.typed" in names and "flask_ext/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "[pytest11]\nspanner_pools.pytest_plugin = spanner_pools.pytest_plugin" in entry_points
    assert f"Version: {spanner_pools.__version__}" in metadata
    assert "License-Expression: Apache-2.0" in metadata


def test_sdist_is_complete(artifacts: tuple[Path, Path]) -> None:
    _, sdist = artifacts
    prefix = f"spanner_pools-{spanner_pools.__version__}/"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    for needed in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "BENCHMARKS.md",
        "spanner_pools/__init__.py",
        "flask_ext/__init__.py",
        "django_app/__init__.py",
        "example_site/flask_site.py",
        "example_site/django_site/settings.py",
        "bench/throughput.py",
        "docs/flask.md",
        "scripts/test",
        "scripts/demo",
        "tests/conftest.py",
        "tests/test_packaging.py",
        ".ci/run",
    ):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(".venv") or "__pycache__" in n]
