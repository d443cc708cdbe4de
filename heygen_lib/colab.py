"""Colab: the bootstrap cell every notebook starts with, what it runs once the kit is installed, and its form check.

The bootstrap cell (`BOOTSTRAP_CELL`) runs before the kit exists: it fetches `heygen_lib/colab_setup.py` (standard
library only) from the repository and calls its `bootstrap`, which clones the kit, installs it, and writes an install
marker only when the install succeeded, so re-running the cell repairs a half-done install. Then it calls
`finish_setup` here for what the kit reads from outside pip: WordNet (the synonym augmenters) and Apertium (the
rule-based back-translation). The cell is the same in every notebook; edit it here and write it into the notebooks
with

    python -m heygen_lib.colab sync          # cell 1 of every notebook
    python -m heygen_lib.colab sync 01 02    # only notebooks whose names start with these
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from heygen_lib.paths import PROJECT_ROOT

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
APERTIUM_PACKAGES = ("apertium", "apertium-eng-spa")

SETUP_URL = "https://raw.githubusercontent.com/heygen-kit/heygen-kit/main/heygen_lib/colab_setup.py"
BOOTSTRAP_CELL = f'''\
# Colab only: install the kit (about 2 minutes the first time; re-run this cell to repair a half-done install).
KEEP_ARTIFACTS_ON_DRIVE = False  # @param {{type:"boolean"}}
import os, sys, urllib.request
SETUP = "{SETUP_URL}"
if "google.colab" in sys.modules:  # clone and install the kit, fetch WordNet and Apertium (heygen_lib/colab_setup.py)
    exec(urllib.request.urlopen(os.environ.get("HEYGEN_SETUP_URL", SETUP)).read().decode())
    bootstrap(KEEP_ARTIFACTS_ON_DRIVE)'''


def finish_setup(runner: Callable[[Sequence[str]], int] | None = None) -> list[str]:
    """After the install: fetch WordNet and Apertium where missing, then print one line each on what the runtime has.

    Nothing here stops the notebook: a notebook that needs what is missing says so itself. Returns the lines printed.
    """
    from heygen_lib.paths import artifacts_dir

    where = artifacts_dir()
    shown = where.relative_to(PROJECT_ROOT) if where.is_relative_to(PROJECT_ROOT) else where  # Drive: the student's own
    lines = [ensure_wordnet(), ensure_apertium(runner), f"artifacts are kept in {shown}/"]
    print("\n".join(lines))
    return lines


def ensure_wordnet() -> str:
    """WordNet for the synonym augmenters: use what NLTK finds, else download it into the kit's ``.nltk_data``."""
    import nltk

    from heygen_lib.augment.wordnet import NLTK_DATA, WordNetMissing, load_wordnet

    try:
        load_wordnet()
        return "WordNet: ready"
    except WordNetMissing:
        pass
    NLTK_DATA.mkdir(parents=True, exist_ok=True)
    fetched = nltk.download("wordnet", download_dir=str(NLTK_DATA), quiet=True)
    if not fetched:
        return ("WordNet: nltk.download('wordnet') failed (no network?); notebook 02's synonym augmenters need it: "
                "re-run this cell")
    folder = f"{NLTK_DATA.relative_to(PROJECT_ROOT)}/"
    try:
        load_wordnet()
    except WordNetMissing:
        return f"WordNet: downloaded into {folder}, but NLTK cannot read it there; notebook 02's synonym augmenters need it"
    return f"WordNet: downloaded into {folder}"


def _run_quietly(command: Sequence[str]) -> int:
    return subprocess.run(list(command), capture_output=True).returncode


def ensure_apertium(runner: Callable[[Sequence[str]], int] | None = None) -> str:
    """Apertium's English-Spanish pair for rule-based back-translation (both modes, there and back): installed with
    apt-get where missing.

    `runner` runs one command and returns its exit code (the tests pass a recorder).
    """
    from heygen_lib.augment import apertium

    modes = f"{apertium.ApertiumConfig().forward} and {apertium.ApertiumConfig().backward}"
    if apertium.apertium_available():
        return f"Apertium: ready ({modes})"
    run = runner or _run_quietly
    run(["apt-get", "-qq", "update"])  # a fresh runtime's package lists may be stale
    code = run(["apt-get", "-qq", "install", "-y", *APERTIUM_PACKAGES])
    apertium.apertium_modes.cache_clear()  # listed before the install
    if code == 0 and apertium.apertium_available():
        return f"Apertium: installed ({modes})"
    return (f"Apertium: not available (apt-get install {' '.join(APERTIUM_PACKAGES)} exited with {code}); "
            "back-translation with Apertium is skipped, the other augmenters work")


# --- keeping cell 1 the same everywhere ---------------------------------------------------------------------------


def first_code_cell(notebook: dict) -> dict:
    return next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")


def cell_source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def sync_bootstrap(paths: Sequence[Path]) -> list[Path]:
    """Write `BOOTSTRAP_CELL` into the first code cell of each notebook (keeping its id and metadata, and the file's
    JSON layout); returns the notebooks that changed."""
    changed = []
    for path in paths:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = first_code_cell(notebook)
        if cell_source(cell) == BOOTSTRAP_CELL:
            continue
        cell["source"] = BOOTSTRAP_CELL.splitlines(keepends=True)
        cell["outputs"], cell["execution_count"] = [], None
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        changed.append(path)
    return changed


# --- Colab forms -------------------------------------------------------------------------------------------------

_PARAM_LINE = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*#\s*@param\b(?P<spec>.*)$")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z][\w-]*)\s*:")
_TYPES: dict[str, Callable[[object], bool]] = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "slider": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "date": lambda v: isinstance(v, str),
    "raw": lambda v: True,
}


def _read_specs(text: str) -> list[object]:
    """Colab's spec syntax (JSON with bare keys) as Python values, one per `{...}` or `[...]`; raises ValueError."""
    text, specs, decoder = _BARE_KEY.sub(r'\1"\2":', text).strip(), [], json.JSONDecoder()
    while text:
        spec, end = decoder.raw_decode(text)
        specs.append(spec)
        text = text[end:].strip()
    return specs


def param_problems(line: str) -> list[str]:
    """Why Colab's form renderer would not show `line` (a ``NAME = value  # @param spec`` line) as written; [] if it would.

    Colab needs a literal value (it rewrites the value when the form changes), a spec it knows, and nothing after the
    spec: prose goes in the markdown cell above.
    """
    match = _PARAM_LINE.match(line)
    if not match:
        return ["not of the form NAME = value  # @param spec"]
    name = match["name"]
    try:
        value = ast.literal_eval(match["value"])
    except (ValueError, SyntaxError):
        return [f"{name}: value {match['value']!r} is not a literal (Colab would overwrite the expression)"]
    try:
        specs = _read_specs(match["spec"])
    except ValueError:
        return [f"{name}: spec {match['spec'].strip()!r} is not a Colab form spec (prose after it belongs in markdown)"]
    if not specs:
        return [f"{name}: no spec after # @param (e.g. {{type:\"integer\"}})"]
    first, rest = specs[0], specs[1:]
    if isinstance(first, list):
        allow_input = rest == [{"allow-input": True}]
        if rest and not allow_input:
            return [f"{name}: after a dropdown list only {{allow-input: true}} may follow, not {rest}"]
        if value not in first and not (allow_input and isinstance(value, str)):
            return [f"{name}: value {value!r} is not one of the dropdown's options {first}"]
        return []
    if not isinstance(first, dict) or rest or first.get("type") not in _TYPES:
        return [f"{name}: spec {match['spec'].strip()!r} is not one Colab knows"]
    kind = first["type"]
    if not _TYPES[kind](value):
        return [f"{name}: value {value!r} does not fit type {kind!r}"]
    if kind == "slider":
        low, high = first.get("min"), first.get("max")
        if low is None or high is None or not low <= value <= high:
            return [f"{name}: slider value {value!r} outside min {low} .. max {high}"]
    return []


def form_problems(notebook_path: Path) -> list[str]:
    """Every `# @param` line of a notebook that Colab would not render as written, with its cell number."""
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        for line in cell_source(cell).splitlines():
            if re.search(r"#\s*@param\b", line):
                problems += [f"{notebook_path.name} cell {index}: {p}" for p in param_problems(line)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "sync":
        print(__doc__, file=sys.stderr)
        return 2
    prefixes = tuple(args[1:])
    notebooks = [p for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) if not prefixes or p.name.startswith(prefixes)]
    changed = sync_bootstrap(notebooks)
    print(f"bootstrap cell written into {len(changed)} of {len(notebooks)} notebook(s): "
          + (", ".join(p.name for p in changed) or "all were up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
