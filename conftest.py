"""pytest set-up for the whole kit: nbval runs the notebooks in `FRESH_ARTIFACTS` as on a fresh Colab runtime.

Each of those notebooks starts its kernel with ``HEYGEN_ARTIFACTS_DIR`` pointing at an empty folder of its own, so it
must make what earlier notebooks would have left there (issue 15), while `make test` still runs every notebook once.
Only the kit's own model cache and the lesson records are shared (`heygen_lib.paths.SHARED_CACHES`). A notebook that
others read from (02 for 05, 05 for 06) can join only once those readers make what they miss themselves.

    pytest notebooks/ --fresh-artifacts=02,05,06   # choose other notebooks for one run; --fresh-artifacts= for none
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from heygen_lib.paths import ARTIFACTS_ENV, fresh_artifacts_dir

# Notebook prefixes. 02 (whose pools 05 reads), 05 (which reads 02's and 04's files and writes 06's model) and 06 run
# as from their Colab badge: each makes what it misses itself (ensure_augmented_pairs, ensure_reviewed_pairs,
# ensure_finetuned_model), which adds a few minutes to `make test`. 03 and 04 read nothing earlier notebooks write.
FRESH_ARTIFACTS = ("01", "02", "05", "06")


def pytest_addoption(parser):
    parser.addoption("--fresh-artifacts", default=",".join(FRESH_ARTIFACTS), metavar="02,05",
                     help="notebooks (name prefixes) that nbval runs in an empty artifacts folder of their own "
                          f"(default {','.join(FRESH_ARTIFACTS)})")


def pytest_configure(config):
    config.fresh_artifacts = {}  # notebook path -> its fresh folder


def pytest_unconfigure(config):
    for folder in getattr(config, "fresh_artifacts", {}).values():
        shutil.rmtree(folder.parent, ignore_errors=True)  # the links only: shared caches stay


def fresh_prefixes(config) -> tuple[str, ...]:
    return tuple(p.strip() for p in config.getoption("--fresh-artifacts").split(",") if p.strip())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel while setting up its first cell; the kernel keeps the environment it got."""
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb" or not path.name.startswith(fresh_prefixes(item.config)):
        yield
        return
    folders = item.config.fresh_artifacts
    if path not in folders:
        folders[path] = fresh_artifacts_dir(Path(tempfile.mkdtemp(prefix=f"heygen-{path.stem[:2]}-")) / "artifacts")
    before = os.environ.get(ARTIFACTS_ENV)
    os.environ[ARTIFACTS_ENV] = str(folders[path])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ARTIFACTS_ENV, None)
        else:
            os.environ[ARTIFACTS_ENV] = before
