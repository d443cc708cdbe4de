"""Every widget test again under Colab's ipywidgets 7.7.1 (the other runs use the venv's ipywidgets 8).

`make test` installs ipywidgets 7.7.1 into ``.ipywidgets7/``; this runs the widget test modules in a child pytest with
that folder in front of the venv's site-packages.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from heygen_lib.paths import PROJECT_ROOT

IPYWIDGETS7 = PROJECT_ROOT / ".ipywidgets7"
WIDGET_TESTS = sorted(p for p in (PROJECT_ROOT / "tests").glob("test_*widget*.py") if p.name != Path(__file__).name)


def test_widget_tests_pass_under_ipywidgets_7_7_1():
    if not (IPYWIDGETS7 / "ipywidgets").is_dir():
        pytest.skip("`make test` installs ipywidgets 7.7.1 into .ipywidgets7/")
    assert len(WIDGET_TESTS) >= 4, WIDGET_TESTS
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(IPYWIDGETS7), str(PROJECT_ROOT)])}
    code = ("import ipywidgets, pytest, sys; print('ipywidgets', ipywidgets.__version__); "
            "sys.exit(pytest.main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "-q", "-o", "addopts=", "-p", "no:cacheprovider",
                           "-W", "ignore::DeprecationWarning", *map(str, WIDGET_TESTS)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.stdout.startswith("ipywidgets 7.7.1\n"), done.stdout[:300]
    assert done.returncode == 0, done.stdout[-3000:]
    assert " failed" not in done.stdout and " passed" in done.stdout
