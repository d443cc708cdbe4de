"""`make test`'s notebook run fails when a notebook shows unclean output or loses its lesson.

Tiny notebooks are executed under nbval in a subprocess with the kit's own wiring (``notebooks/conftest.py``), the
way `make test` runs the real ones, and each cell's verdict is read from the JUnit report.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from heygen_lib.paths import PROJECT_ROOT

FIGURE = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1, 2], [6.8421, 6.8425, 6.8429])\n"
LIBRARY_LOAD_BAR = """import types
lib = types.ModuleType("hub_library")
exec(compile("from tqdm.auto import tqdm\\ndef load():\\n    for _ in tqdm(range(3), desc='Loading weights'): pass",
             "hub_library.py", "exec"), lib.__dict__)
lib.load()"""

NOTEBOOKS = {
    "clean": [
        "print('profile smoke')",
        FIGURE + "ax.set(title='nll', xlabel='step', ylabel='nll (nats)')\nax.ticklabel_format(useOffset=False);",
        "from tqdm.auto import tqdm\nfor _ in tqdm(range(5), desc='train'): pass",
        "2105;",
        "from heygen_lib.lessons import Lesson, check_lessons\n"
        "check_lessons('clean', [Lesson('conversations in two splits', 0, '==', 0)]);",
    ],
    "unclean": [
        "from pathlib import Path\nprint(Path.cwd())",
        FIGURE + "ax.set_title('nll');",
        "from tqdm.auto import tqdm\nfor step in tqdm(range(100), desc='train'):\n    if step == 91: break",
        LIBRARY_LOAD_BAR,
        "2105",
        "import warnings\nwarnings.warn('old API')",
        "# NBVAL_IGNORE_OUTPUT\nx = 1",
    ],
    "lesson_lost": [
        "from heygen_lib.lessons import Lesson, check_lessons\n"
        "check_lessons('lesson_lost', [Lesson('GAN NLL_oracle move / noise', 0.4, '>', 3, 'the GAN moves')]);",
    ],
}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """{(notebook, cell number): failure text or None} from one nbval run over the fixture notebooks."""
    folder = tmp_path_factory.mktemp("notebooks")
    shutil.copy(PROJECT_ROOT / "notebooks" / "conftest.py", folder)
    (folder / "pytest.ini").write_text("[pytest]\n")
    for name, cells in NOTEBOOKS.items():
        notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, folder / f"{name}.ipynb")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HEYGEN_LESSONS": "strict",
           "HEYGEN_RUN_DIR": str(folder / "run"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
                          "-q", "--junitxml", str(folder / "report.xml"), *(f"{name}.ipynb" for name in NOTEBOOKS)],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert (folder / "report.xml").exists(), run.stdout + run.stderr
    found = {}
    for case in ET.parse(folder / "report.xml").iter("testcase"):
        failure = case.find("failure")
        notebook = case.get("classname").split(".")[0]
        found[notebook, int(case.get("name").split()[-1])] = None if failure is None else failure.text
    return found


def test_a_clean_notebook_with_its_lessons_passes(verdicts):
    assert [verdicts["clean", cell] for cell in range(5)] == [None] * 5


@pytest.mark.parametrize("cell, problem", [
    (0, "machine path"),
    (1, "figure 'nll': x axis has no label"),
    (1, "figure 'nll': y axis has no label"),
    (1, "figure 'nll': y axis uses offset notation"),
    (2, "progress bar 'train' closed at 91% (91/100)"),
    (3, "third-party load/save progress bar 'Loading weights' from hub_library"),
    (4, "stray return value '2105'"),
    (5, "warning in stderr"),
    (6, "nbval comment marker '# NBVAL_IGNORE_OUTPUT'"),
])
def test_each_unclean_cell_fails_naming_notebook_cell_and_problem(verdicts, cell, problem):
    failure = verdicts["unclean", cell]
    assert failure is not None and f"unclean.ipynb cell {cell}" in failure and problem in failure


def test_a_notebook_that_checks_no_lessons_fails_on_its_last_cell(verdicts):
    assert "unclean.ipynb checked no lessons" in verdicts["unclean", 6]


def test_a_lost_lesson_fails_naming_notebook_and_number(verdicts):
    failure = verdicts["lesson_lost", 0]
    assert "LessonFailed" in failure
    assert "lesson_lost no longer shows its lesson: GAN NLL_oracle move / noise = 0.4, must be > 3" in failure


def test_make_test_executes_every_notebook_with_strict_lessons():
    recipe = (PROJECT_ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "HEYGEN_PROFILE=smoke" in recipe and "HEYGEN_LESSONS=strict" in recipe and "pytest" in recipe
    settings = (PROJECT_ROOT / "pyproject.toml").read_text().split("[tool.pytest.ini_options]", 1)[1]
    assert 'testpaths = ["tests", "notebooks"]' in settings and "--nbval-lax" in settings


def test_an_exempt_notebooks_problems_are_warnings_and_the_others_fail_together():
    spec = importlib.util.spec_from_file_location("notebook_checks", PROJECT_ROOT / "notebooks" / "conftest.py")
    wiring = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wiring)
    exempt = {"old.ipynb": "being cleaned up"}
    with pytest.warns(wiring.UncleanOutputWarning, match="(?s)cell 3: stray return value.*exempt for now: being cleaned up"):
        wiring._fail_or_warn([(exempt, "old.ipynb", "cell 3: stray return value")])
    with pytest.raises(wiring.UncleanOutput, match="(?s)cell 1: machine path.*cell 1 checked no lessons"):
        wiring._fail_or_warn([(exempt, "new.ipynb", "cell 1: machine path"), (exempt, "new.ipynb", "cell 1 checked no lessons")])
