"""What `make test` asks of each notebook beyond "every cell runs" (nbval executes the cells; it compares no output,
since notebooks are stored stripped).

- Clean outputs: every executed cell goes through `heygen_lib.notebook_output`. The kernel nbval starts
  gets the figure and progress-bar watcher before the first cell; after each cell its outputs are checked and the cell
  fails naming every problem.
- Lessons: each notebook's lesson checks raise under ``HEYGEN_LESSONS=strict``; in addition, after a
  notebook's last cell its recorded results (``<notebook>.lessons.json``, written by `check_lessons` under the
  notebook's file stem) must exist and all hold, so a notebook that stops checking its lesson fails too.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from nbval.plugin import IPyNbCell

from heygen_lib.lessons import RUN_DIR_ENV, read_lessons
from heygen_lib.notebook_output import cell_problems
from heygen_lib.paths import runs_dir

# Notebooks whose problems are reported as warnings instead of failures, each with the reason. Kept empty: a notebook
# goes here only with the planned change that will clean it, so `make test` lists its problems meanwhile.
OUTPUT_CHECK_EXEMPT: dict[str, str] = {}
LESSONS_EXEMPT: dict[str, str] = {}

KERNEL_SETUP = "from heygen_lib.notebook_output import install_kernel_checks as _c; _c(); del _c"


class UncleanOutput(AssertionError):
    """An executed cell shows the student something the kit promises they never see."""


class UncleanOutputWarning(UserWarning):
    """A problem in a notebook listed as exempt: reported, not failed."""


def _fail_or_warn(found: list[tuple[dict[str, str], str, str]]) -> None:
    """Raise one failure with every message of a cell; a message about an exempt notebook is only a warning."""
    failing = []
    for exempt, name, message in found:
        if name in exempt:
            warnings.warn(UncleanOutputWarning(f"{message}\n  (exempt for now: {exempt[name]})"), stacklevel=1)
        else:
            failing.append(message)
    if failing:
        raise UncleanOutput("\n".join(failing))


def _install_kernel_checks(notebook) -> None:
    """Run the watcher's set-up silently in the notebook's kernel (no output, no execution count)."""
    client = notebook.kernel.kc
    msg_id = client.execute(KERNEL_SETUP, silent=True, store_history=False)
    while True:
        reply = client.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    notebook.kernel.await_idle(msg_id, 60)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"output checks could not start in the kernel: {reply['content'].get('evalue')}")


def _lessons_file(notebook) -> Path:
    return Path(os.environ[RUN_DIR_ENV]) / f"{Path(str(notebook.fspath)).stem}.lessons.json"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    notebook = item.parent if isinstance(item, IPyNbCell) else None
    first = notebook is not None and not getattr(notebook, "heygen_checked", False)
    if first:  # before nbval starts the kernel, which inherits the environment
        os.environ.setdefault(RUN_DIR_ENV, str(runs_dir() / "make-test"))
        _lessons_file(notebook).unlink(missing_ok=True)
    result = yield
    if first:
        _install_kernel_checks(notebook)
        notebook.heygen_checked = True
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # a cell that raised has failed already
    if not isinstance(item, IPyNbCell):
        return result
    notebook = Path(str(item.parent.fspath))
    first_line = (item.cell.source.strip().splitlines() or [""])[0]
    where = f"{item.parent.nodeid} cell {item.cell_num} ({first_line[:60]!r})"
    problems = cell_problems(item.cell.source, item.test_outputs or [], item.cell.metadata.get("tags", []))
    found = []
    if problems:
        found.append((OUTPUT_CHECK_EXEMPT, notebook.name,
                      f"{where}: unclean output:\n" + "\n".join(f"  - {p}" for p in problems)))
    if item.cell_num == sum(cell.cell_type == "code" for cell in item.parent.nb.cells) - 1:
        lessons = read_lessons(_lessons_file(item.parent))
        if lessons is None:
            found.append((LESSONS_EXEMPT, notebook.name, f"{item.parent.nodeid} checked no lessons: call heygen_lib."
                          f"lessons.check_lessons({notebook.stem!r}, [...]) on the numbers it teaches"))
        elif failed := [lesson for lesson in lessons if not lesson["holds"]]:
            found.append((LESSONS_EXEMPT, notebook.name, f"{item.parent.nodeid} no longer shows its lesson: " + "; ".join(
                f"{l['name']} = {l['value']:.4g}, must be {l['op']} {l['bound']}" for l in failed)))
    _fail_or_warn(found)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(UncleanOutput):
        report.longrepr = str(call.excinfo.value)
    return report
