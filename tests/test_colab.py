"""The Colab bootstrap cell is the same everywhere, its forms render, and its set-up steps say what they did."""

import json
import shutil
import subprocess

import pytest

from heygen_lib import colab
from heygen_lib.augment import apertium
from heygen_lib.colab import BOOTSTRAP_CELL, cell_source, first_code_cell, form_problems, param_problems, sync_bootstrap
from heygen_lib.paths import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
def test_there_are_six_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_canonical_bootstrap_cell(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert cell_source(first_code_cell(notebook)) == BOOTSTRAP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_param_line_is_one_colab_renders(path):
    assert form_problems(path) == []


def test_bootstrap_cell_forms_render_and_it_compiles():
    compile(BOOTSTRAP_CELL, "bootstrap", "exec")
    assert [param_problems(line) for line in BOOTSTRAP_CELL.splitlines() if "@param" in line] == [[]]


@pytest.mark.parametrize("line", [
    'SEED = 0  # @param {type:"integer"}',
    'CONTEXT_TURNS = 3  # @param {type:"slider", min:1, max:8}',
    'RATE = 0.5  # @param {type:"slider", min:0, max:1, step:0.1}',
    'TEMPERATURE = 1  # @param {type:"number"}',
    'ON = False  # @param {type:"boolean"}',
    'NAME = "x"  # @param {type:"string"}',
    'LIMIT = None  # @param {type:"raw"}',
    'TARGET = "response"  # @param ["response", "context", "both"]',
    'MODEL = "gpt2"  # @param ["distilgpt2"] {allow-input: true}',
])
def test_well_formed_param_lines_pass(line):
    assert param_problems(line) == []


@pytest.mark.parametrize("line, problem", [
    ('TEMPERATURE = 1.0  # @param {type:"number"}  sampling temperature', "not a Colab form spec"),
    ('ACCEPT = None  # @param  accept above this', "not a Colab form spec"),
    ('ACCEPT = None  # @param', "no spec"),
    ('STEPS = 20 if SMOKE else 200  # @param {type:"integer"}', "not a literal"),
    ('TOKENS = SIZES.max_new_tokens  # @param {type:"integer"}', "not a literal"),
    ('SEED = 0.5  # @param {type:"integer"}', "does not fit type 'integer'"),
    ('SEED = True  # @param {type:"integer"}', "does not fit type 'integer'"),
    ('TURNS = 9  # @param {type:"slider", min:1, max:8}', "outside min 1 .. max 8"),
    ('TURNS = 3  # @param {type:"slider"}', "outside min None"),
    ('TARGET = "all"  # @param ["response", "context"]', "not one of the dropdown's options"),
    ('KIND = 3  # @param {type:"colour"}', "not one Colab knows"),
    ('print(1)  # @param {type:"integer"}', "not of the form"),
])
def test_malformed_param_lines_are_named_with_the_reason(line, problem):
    (found,) = param_problems(line)
    assert problem in found


def test_form_problems_name_the_notebook_and_cell(tmp_path):
    notebook = {"cells": [{"cell_type": "markdown", "source": "SEED = x  # @param {type:\"integer\"}"},
                          {"cell_type": "code",
                           "source": ["import os\n", "SEED = 1 + 1  # @param {type:\"integer\"}\n"]}]}
    path = tmp_path / "09_x.ipynb"
    path.write_text(json.dumps(notebook))
    assert form_problems(path) == [
        "09_x.ipynb cell 1: SEED: value '1 + 1' is not a literal (Colab would overwrite the expression)"]


def test_sync_rewrites_only_the_first_code_cell_and_keeps_ids_and_layout(tmp_path):
    path = tmp_path / "02_x.ipynb"
    shutil.copy(PROJECT_ROOT / "notebooks" / "02_augmentation.ipynb", path)
    before = json.loads(path.read_text())
    before_code = [c for c in before["cells"] if c["cell_type"] == "code"]
    before_code[0]["source"] = ["print('old bootstrap')\n"]
    path.write_text(json.dumps(before, indent=1, ensure_ascii=False) + "\n")

    assert sync_bootstrap([path]) == [path]
    after = json.loads(path.read_text())
    assert cell_source(first_code_cell(after)) == BOOTSTRAP_CELL
    assert [c.get("id") for c in after["cells"]] == [c.get("id") for c in before["cells"]]
    assert after["cells"][:1] == before["cells"][:1] and after["cells"][3:] == before["cells"][3:]
    assert path.read_text() == json.dumps(after, indent=1, ensure_ascii=False) + "\n"
    assert sync_bootstrap([path]) == []  # already in sync: untouched


def test_apertium_is_installed_with_apt_when_missing_and_its_absence_is_said(monkeypatch):
    calls = []
    monkeypatch.setattr(apertium, "apertium_available", lambda: False)
    line = colab.ensure_apertium(lambda command: calls.append(list(command)) or 100)
    assert calls == [["apt-get", "-qq", "update"], ["apt-get", "-qq", "install", "-y", "apertium", "apertium-eng-spa"]]
    assert line.startswith("Apertium: not available") and "exited with 100" in line and "other augmenters work" in line

    states = iter([False, True])
    monkeypatch.setattr(apertium, "apertium_available", lambda: next(states))
    calls.clear()
    line = colab.ensure_apertium(lambda command: calls.append(list(command)) or 0)
    assert line == "Apertium: installed (eng-spa and spa-eng)"
    assert len(calls) == 2


def test_apertium_already_there_installs_nothing(monkeypatch):
    monkeypatch.setattr(apertium, "apertium_available", lambda: True)
    assert colab.ensure_apertium(lambda command: pytest.fail(f"ran {command}")) == "Apertium: ready (eng-spa and spa-eng)"


def test_apertium_counts_as_ready_only_with_both_modes_and_is_listed_again_after_an_install(monkeypatch):
    listed = {"modes": "eng-spa\n"}
    runs = []
    monkeypatch.setattr(apertium.shutil, "which", lambda name: "/usr/bin/apertium")
    monkeypatch.setattr(apertium.subprocess, "run", lambda command, **kwargs: runs.append(command) or
                        subprocess.CompletedProcess(command, 0, stdout=listed["modes"]))
    apertium.apertium_modes.cache_clear()
    try:
        assert not apertium.apertium_available() and not apertium.apertium_available()
        assert runs == [["apertium", "-l"]]  # listed once, not per check

        def install(command):
            listed["modes"] = "eng-spa\nspa-eng\n"  # apt-get brings the way back
            return 0

        assert colab.ensure_apertium(install) == "Apertium: installed (eng-spa and spa-eng)"
    finally:
        apertium.apertium_modes.cache_clear()  # the real Apertium for the tests that follow


def test_the_colab_page_names_what_the_cell_does():
    import inspect

    section = (PROJECT_ROOT / "docs" / "colab.md").read_text(encoding="utf-8")
    from heygen_lib import colab_setup

    code = BOOTSTRAP_CELL + inspect.getsource(colab) + inspect.getsource(colab_setup)
    for fact in ("/content/heygen-kit", ".colab-installed", "KEEP_ARTIFACTS_ON_DRIVE", "HEYGEN_ARTIFACTS_DIR",
                 "/content/drive/MyDrive/heygen-kit/artifacts", 'nltk.download("wordnet"', "apt-get",
                 *colab.APERTIUM_PACKAGES,
                 "re-run this cell to try again"):
        assert fact in section, fact
        assert fact in code, fact


# What Colab's runtime had when issue 15 rehearsed it; the kit's requirements must admit them, or the bootstrap's
# `pip install` would replace Colab's own builds (a CUDA torch swapped for another, ipywidgets 8 without its front end).
COLAB_KEEPS = {"torch": "2.6.0", "transformers": "5.0.0", "ipywidgets": "7.7.1"}


def test_the_kits_requirements_admit_colabs_own_torch_transformers_and_ipywidgets():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = {r.name: r for r in map(Requirement, pyproject["project"]["dependencies"])}
    for name, version in COLAB_KEEPS.items():
        assert requirements[name].specifier.contains(version), (name, str(requirements[name].specifier), version)


def test_wordnet_download_failure_is_said_and_nothing_raises(monkeypatch, tmp_path):
    import nltk

    from heygen_lib.augment import wordnet

    def missing():
        raise wordnet.WordNetMissing("no WordNet")

    calls = []
    monkeypatch.setattr(wordnet, "load_wordnet", missing)
    monkeypatch.setattr(wordnet, "NLTK_DATA", tmp_path / "nltk_data")
    monkeypatch.setattr(nltk, "download", lambda name, download_dir, quiet: calls.append((name, download_dir)) or False)
    line = colab.ensure_wordnet()
    assert calls == [("wordnet", str(tmp_path / "nltk_data"))]
    assert line.startswith("WordNet: nltk.download('wordnet') failed") and "re-run this cell" in line
