"""pytest set-up for the whole kit: nbval runs chosen notebooks in a fresh artifacts folder, as on a fresh Colab runtime.

Each of those notebooks starts its kernel with ``HEYGEN_ARTIFACTS_DIR`` pointing at an empty folder of its own, while
`make test` still runs every notebook once. Only the lesson records are shared (`heygen_lib.paths.SHARED_CACHES`).
The notebooks that others read from (02 and 04 for 05, 05 for 06) run in the usual folder, in order, so that 05
and 06 read what they wrote instead of rebuilding whole pipelines; that a notebook opened alone rebuilds what it
misses is proven by the tests of `ensure_augmented_pairs`, `ensure_reviewed_pairs` and `ensure_finetuned_model`,
at the quick sizes such a rebuild uses.

    pytest notebooks/ --fresh-artifacts=02,05,06   # choose other notebooks for one run; --fresh-artifacts= for none
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from heygen_lib.paths import ARTIFACTS_ENV, fresh_artifacts_dir

# Notebook prefixes: those that read nothing other notebooks write, and that no later notebook reads.
FRESH_ARTIFACTS = ("01", "03")


def pytest_addoption(parser):
    parser.addoption("--fresh-artifacts", default=",".join(FRESH_ARTIFACTS), metavar="02,05",
                     help="notebooks (name prefixes) that nbval runs in an empty artifacts folder of their own "
                          f"(default {','.join(FRESH_ARTIFACTS)})")


SHARED_ARTIFACTS_GROUP = "notebooks that read each other's artifacts"


def run_group(nodeid: str, fresh: tuple[str, ...]) -> str:
    """What `make test`'s workers (``pytest -n auto``) run whole, in order, on one worker: a test module (its module
    fixtures are built once), a notebook that stands alone (`FRESH_ARTIFACTS`), or the notebooks that read what
    another wrote (02 and 04 for 05, 05 for 06), together in their order as in a serial run."""
    path = Path(nodeid.split("::")[0])
    if path.suffix != ".ipynb":
        return str(path)
    return str(path) if path.name.startswith(fresh) else SHARED_ARTIFACTS_GROUP


# The longest groups, started first (with two workers, the first two start at once and the next two follow them):
# notebooks 02-06 (about 10 of `make test`'s minutes on one core), the full-profile rehearsal (about 5), then one
# short group and notebook 03 (3), so that neither worker is left with a long group at the end.
LONGEST_FIRST = (SHARED_ARTIFACTS_GROUP, "tests/test_full_profile_rehearsal.py",
                 "tests/test_standalone_notebooks.py", "notebooks/03_text_gans.ipynb")


def pytest_collection_modifyitems(config, items):
    """The `LONGEST_FIRST` groups first, each in its own order; then every other test as collected."""
    fresh = fresh_prefixes(config)
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(run_group(item.nodeid, fresh), len(rank)))  # stable: order kept within


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: called only when it distributes the tests
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduling by scope, with `run_group` as the scope, handed out in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return run_group(nodeid, fresh_prefixes(config))

    config.option.loadscopereorder = False  # not by test count: `LONGEST_FIRST` put the long groups first
    return ByGroup(config, log)


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
