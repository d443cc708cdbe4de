"""The nbval harness (the kit's root conftest.py) starts chosen notebooks' kernels in a fresh artifacts folder."""

import json
import os
import subprocess
import sys

import pytest

from heygen_lib.paths import PROJECT_ROOT, SHARED_CACHES, fresh_artifacts_dir


def notebook(*lines: str) -> str:
    cell = {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
            "source": "\n".join(lines)}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_fresh_folder_is_empty_but_for_links_to_the_shared_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "usual"))
    (tmp_path / "usual" / "nlg").mkdir(parents=True)
    fresh = fresh_artifacts_dir(tmp_path / "fresh")
    assert sorted(p.name for p in fresh.iterdir()) == sorted(SHARED_CACHES)
    for name in SHARED_CACHES:
        assert (fresh / name).resolve() == (tmp_path / "usual" / name).resolve()
    with pytest.raises(FileExistsError):
        fresh_artifacts_dir(tmp_path / "fresh")


def test_nbval_runs_the_chosen_notebooks_in_a_fresh_artifacts_folder_and_the_others_as_usual(tmp_path):
    (tmp_path / "08_fresh.ipynb").write_text(notebook(
        "import os", "from pathlib import Path",
        "folder = Path(os.environ['HEYGEN_ARTIFACTS_DIR'])",
        f"assert folder.name == 'artifacts' and sorted(p.name for p in folder.iterdir()) == {sorted(SHARED_CACHES)}",
        "assert all((folder / name).is_symlink() for name in os.listdir(folder))"))
    (tmp_path / "09_usual.ipynb").write_text(notebook(
        "import os", "assert os.environ.get('HEYGEN_ARTIFACTS_DIR') == os.environ['EXPECTED']"))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HEYGEN_ARTIFACTS_DIR": str(tmp_path / "usual"),
           "EXPECTED": str(tmp_path / "usual")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           "--nbval-lax", "--nbval-current-env", "--fresh-artifacts=08", "-o", "addopts=",
                           "--rootdir", str(tmp_path),
                           str(tmp_path / "08_fresh.ipynb"), str(tmp_path / "09_usual.ipynb")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
    assert sorted(p.name for p in (tmp_path / "usual").iterdir()) == sorted(SHARED_CACHES)  # the shared caches exist
