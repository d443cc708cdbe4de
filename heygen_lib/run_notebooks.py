"""The kit's main job: execute the notebooks in order, headless, and keep the executed copies with their plots.

    heygen-run-notebooks                  # every notebook, profile chosen for this machine
    heygen-run-notebooks --profile full   # force a profile
    heygen-run-notebooks 01 03            # only notebooks whose names start with these prefixes

Executed copies go to ``runs/<time>-<profile>/`` (git-ignored); their figures are also saved there as PNG files.
Executing notebooks needs the ``lab`` extra (nbformat, nbclient): ``pip install 'heygen-kit[lab]'``.
"""

from __future__ import annotations

import argparse
import base64
import html
import importlib.util
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from heygen_lib.lessons import RUN_DIR_ENV
from heygen_lib.notebook_output import WIDGET_MIME
from heygen_lib.paths import PROJECT_ROOT, runs_dir
from heygen_lib.profile import ENV_VAR, PROFILES, ProfileError, active_profile

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"  # where nbclient saves the widgets' final state
TQDM_LAYOUT = ["HTMLModel", "FloatProgressModel", "HTMLModel"]  # tqdm.notebook's bar: prefix, bar, postfix


def notebooks_in_order(folder: Path = NOTEBOOK_DIR, prefixes: list[str] | None = None) -> list[Path]:
    """The numbered notebooks (``01_....ipynb``), in order, optionally only those starting with `prefixes`."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        found = [nb for nb in found if nb.name.startswith(tuple(prefixes))]
    return found


def save_figures(notebook, folder: Path, stem: str) -> list[Path]:
    """Write every PNG output of an executed notebook to `folder`, named by notebook and cell."""
    saved = []
    for index, cell in enumerate(notebook.cells):
        pngs = [out["data"]["image/png"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
        for k, png in enumerate(pngs):
            path = folder / f"{stem}-cell{index:02d}-{k}.png"
            path.write_bytes(base64.b64decode(png))
            saved.append(path)
    return saved


def progress_bar_text(state: dict, model_id: str, width: int = 10) -> str | None:
    """The text a tqdm widget bar shows at the end of the run, from the saved widget `state` (None for any other
    widget): "runs: 100%|██████████| 4/4 [00:12<00:00, 3.0s/it]"."""
    model = state.get(model_id, {})
    children = [state.get(child.removeprefix("IPY_MODEL_"), {})
                for child in model.get("state", {}).get("children", [])]
    if model.get("model_name") != "HBoxModel" or [c.get("model_name") for c in children] != TQDM_LAYOUT:
        return None
    prefix, bar, postfix = (child["state"] for child in children)
    filled = int(width * bar["value"] / bar["max"]) if bar.get("max") else 0  # whole cells, as tqdm fills them
    text = f"{prefix['value']}|{'█' * filled}{' ' * (width - filled)}|{postfix['value']}"
    return html.unescape(text).replace("\u2007", " ")


def refresh_progress_bars(notebook) -> int:
    """Give every tqdm widget output the text of its final state. An executed copy keeps, as a widget's text/plain
    stand-in, the text it had when first displayed, so wherever widgets do not render (GitHub, nbviewer, a text
    reader) each bar would read 0%. Returns how many outputs were rewritten."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state", {})
    rewritten = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_MIME)
            text = progress_bar_text(state, view["model_id"]) if view else None
            if text is not None:
                output["data"]["text/plain"] = text
                rewritten += 1
    return rewritten


def execute(path: Path, out_dir: Path) -> tuple[bool, float]:
    """Run one notebook in a fresh kernel; write the executed copy (even when a cell fails) and its figures."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    ok = True
    try:
        client.execute()
    except CellExecutionError as err:
        ok = False
        print(str(err)[-2000:], file=sys.stderr)
    finally:
        refresh_progress_bars(notebook)
        nbformat.write(notebook, out_dir / path.name)
        save_figures(notebook, out_dir / "figures", path.stem)
    return ok, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these (e.g. 01)")
    parser.add_argument("--profile", choices=[*PROFILES, "auto"], help=f"sets {ENV_VAR} for the notebooks")
    args = parser.parse_args(argv)
    missing = [name for name in ("nbformat", "nbclient") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"error: heygen-run-notebooks needs {' and '.join(missing)} (the kit's lab extra): "
              "pip install 'heygen-kit[lab]'", file=sys.stderr)
        return 2
    if args.profile:
        os.environ[ENV_VAR] = args.profile
    try:
        profile = active_profile().name
    except ProfileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    todo = notebooks_in_order(prefixes=args.prefixes)
    if not todo:
        parser.error(f"no notebooks match {args.prefixes} in {NOTEBOOK_DIR}")
    out_dir = runs_dir() / f"{datetime.now():%Y%m%d-%H%M%S}-{profile}"
    (out_dir / "figures").mkdir(parents=True)
    os.environ[RUN_DIR_ENV] = str(out_dir)  # each notebook's lesson checks are recorded beside its executed copy
    print(f"profile {profile}: executing {len(todo)} notebook(s) into {out_dir}")
    for path in todo:
        ok, seconds = execute(path, out_dir)
        print(f"  {path.name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
        if not ok:
            print(f"stopped: {path.name} failed; its executed copy shows the error: {out_dir / path.name}")
            return 1
    latest = runs_dir() / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(out_dir.name)
    print(f"executed notebooks: {out_dir}  (also runs/latest); figures: {out_dir / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
