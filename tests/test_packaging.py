"""The project's promises about itself: install metadata in step, notebooks stored clean, README in step."""

import json
import re
from importlib.metadata import requires
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONDA_TO_PIP = {"pytorch": "torch"}


def requirement(spec: str) -> tuple[str, str]:
    name, bound = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", spec.strip()).groups()
    return CONDA_TO_PIP.get(name.lower(), name.lower()), bound.replace(" ", "")


def test_environment_yml_asks_for_the_same_packages_and_bounds_as_pyproject():
    # The installed metadata is pyproject.toml as of the last install (`make` reinstalls when it changes).
    wanted = []
    for line in requires("heygen-kit"):
        spec, _, marker = line.partition(";")
        if (not marker or re.search(r'extra == "(lab|dev)"', marker)) and not spec.startswith("heygen-kit"):
            wanted.append(spec)
    from_pyproject = {requirement(s) for s in wanted}

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    from_env = {requirement(s) for s in conda + [p for p in pip if not p.startswith("-e")]}
    assert from_env == from_pyproject
    assert "-e ." in pip


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
        assert not dirty, f"{path.name}: cells {dirty} carry outputs; store notebooks stripped"
        ids = [c.get("id") for c in cells]  # nbformat 4.5: a unique id per cell (a missing one warns, later fails)
        assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: every cell needs its own id"


def test_every_notebook_opens_with_badge_colab_bootstrap_and_environment_report():
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        assert f"colab.research.google.com/github/heygen-kit/heygen-kit/blob/main/notebooks/{path.name}" in sources[0]
        assert '"google.colab" in sys.modules' in sources[1]
        assert "environment_report(" in sources[2]


def test_readme_opens_with_the_two_commands_and_lists_every_notebook_with_a_badge():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make run", "make test"]
    for path in NOTEBOOKS:
        assert f"colab.research.google.com/github/heygen-kit/heygen-kit/blob/main/notebooks/{path.name}" in readme


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_wheel_carries_the_shipped_stand_in(tmp_path):
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info/ next to the sources
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True,
                            text=True).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    names = zipfile.ZipFile(next(tmp_path.glob("heygen_kit-*.whl"))).namelist()
    shipped = sorted(p.name for p in (ROOT / "heygen_lib" / "standin").iterdir())
    assert sorted(n.removeprefix("heygen_lib/standin/") for n in names if n.startswith("heygen_lib/standin/")) == shipped


def test_every_relative_link_in_the_readme_and_docs_points_to_a_file():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken
    assert all(f"docs/{p.name}" in pages[0].read_text() for p in pages[1:])  # every page is reachable from the README
