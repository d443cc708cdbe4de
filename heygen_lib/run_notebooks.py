"""The kit's main job: execute the notebooks in order, headless, and keep the executed copies with their plots.

    heygen-run-notebooks                  # every notebook, profile chosen for this machine
    heygen-run-notebooks --profile full   # force a profile
    heygen-run-notebooks 01 03            # only notebooks whose names start with these prefixes
    heygen-run-notebooks --record runs/latest   # keep that run's times as the README's "smoke time" column

Executed copies go to ``runs/<time>-<profile>/`` (git-ignored); their figures are also saved there as PNG files, and
``times.json`` there records each notebook's wall and CPU time.
Executing notebooks needs the ``lab`` extra (nbformat, nbclient): ``pip install 'heygen-kit[lab]'``.
"""

from __future__ import annotations

import argparse
import base64
import html
import importlib.util
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from heygen_lib.lessons import RUN_DIR_ENV
from heygen_lib.notebook_output import WIDGET_MIME
from heygen_lib.paths import PROJECT_ROOT, artifacts_dir, data_dir, runs_dir
from heygen_lib.profile import ENV_VAR, PROFILES, REHEARSAL, active_profile
from heygen_lib.settings import SettingError

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"  # where nbclient saves the widgets' final state
TQDM_LAYOUT = ["HTMLModel", "FloatProgressModel", "HTMLModel"]  # tqdm.notebook's bar: prefix, bar, postfix
TIMES_FILE = "times.json"
README = PROJECT_ROOT / "README.md"
RECORDED_TIMES = NOTEBOOK_DIR / "results" / "smoke_times.json"  # the run whose times the README shows


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


def kernel_cpu_seconds(client) -> float | None:
    """CPU seconds (user + system, its child processes included) the notebook's kernel has used so far, or None
    where the kernel's process cannot be read (a remote kernel, or no psutil)."""
    try:
        import psutil

        times = psutil.Process(client.km.provisioner.process.pid).cpu_times()
    except Exception:  # noqa: BLE001 - a timing we cannot take is reported as missing, never as an error
        return None
    return times.user + times.system + times.children_user + times.children_system


def execute(path: Path, out_dir: Path) -> dict:
    """Run one notebook in a fresh kernel; write the executed copy (even when a cell fails) and its figures.
    Returns its timings: {"ok", "wall_s", "cpu_s", "load_at_start", "cells": [{"cell", "wall_s", "cpu_s"}]}
    (CPU seconds are the kernel's; a cell's are those it used while it ran)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    cells, clock = [], {}

    def started(cell, cell_index, **_):
        clock.update(wall=time.perf_counter(), cpu=kernel_cpu_seconds(client))

    def finished(cell, cell_index, **_):
        cpu = kernel_cpu_seconds(client)
        cells.append({"cell": cell_index, "wall_s": round(time.perf_counter() - clock["wall"], 2),
                      "cpu_s": None if cpu is None or clock["cpu"] is None else round(cpu - clock["cpu"], 2)})
        clock["total_cpu"] = cpu

    client = NotebookClient(notebook, timeout=None, kernel_name="python3", on_cell_execute=started,
                            on_cell_executed=finished, resources={"metadata": {"path": str(path.parent)}})
    load = [round(x, 2) for x in os.getloadavg()]
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
    total_cpu = clock.get("total_cpu")
    return {"ok": ok, "wall_s": round(time.perf_counter() - start, 1),
            "cpu_s": None if total_cpu is None else round(total_cpu, 1), "load_at_start": load, "cells": cells}


def write_times(out_dir: Path, profile: str, times: dict[str, dict]) -> Path:
    """The run's `times.json`: each notebook's wall and CPU time (and its cells'), the profile, the torch threads a
    kernel starts with and the machine's load when each notebook started (a busy machine is slower)."""
    import torch

    record = {"profile": profile, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "notebooks": times}
    path = out_dir / TIMES_FILE
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def time_cell(timing: dict) -> str:
    """A notebook's timing as the README's table shows it: wall minutes, CPU minutes and the load it ran under."""
    cpu = "" if timing["cpu_s"] is None else f", {timing['cpu_s'] / 60:.1f} CPU-min"
    return f"{timing['wall_s'] / 60:.1f} min{cpu} (load {timing['load_at_start'][0]:.1f})"


def record_times(run: Path, readme: Path = README, results: Path = RECORDED_TIMES) -> Path:
    """Keep a run's `times.json` as the kit's measured smoke times (`results`) and write them into the README's
    notebook table (its "smoke time" column), so the numbers a reader sees come from a run, never typed."""
    times = json.loads((run / TIMES_FILE).read_text(encoding="utf-8"))
    missing = [nb.stem for nb in notebooks_in_order() if nb.stem not in times["notebooks"]]
    if missing or times["profile"] != "smoke":
        raise ValueError(f"{run / TIMES_FILE} is not a smoke run of every notebook (missing: {missing or 'none'})")
    results.write_text(json.dumps(times, indent=1) + "\n", encoding="utf-8")
    write_readme_column("smoke time", {stem[:2]: time_cell(timing) for stem, timing in times["notebooks"].items()},
                        readme)
    return results


def write_readme_column(name: str, cells: dict[str, str], readme: Path = README) -> None:
    """Write one column of the README's notebook table: the column whose header starts with `name` gets, in each
    notebook's row, ``cells[<its number>]`` (e.g. "04"). The smoke times and the predicted T4 times are written so."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("|") and f"| {name}" in line)
    column = next(i for i, cell in enumerate(lines[header].split("|")) if cell.strip().startswith(name))
    for i in range(header + 2, len(lines)):
        if not lines[i].startswith("|"):
            break
        row = lines[i].split("|")
        row[column] = f" {cells[row[1].strip()]} "
        lines[i] = "|".join(row)
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these (e.g. 01)")
    parser.add_argument("--profile", choices=[*PROFILES, "auto"], help=f"sets {ENV_VAR} for the notebooks")
    parser.add_argument("--record", type=Path, metavar="RUN",
                        help="instead of running: keep RUN's times.json (a smoke run of every notebook) as "
                             "notebooks/results/smoke_times.json and write it into the README's table")
    args = parser.parse_args(argv)
    if args.record:
        try:
            print(f"recorded: {record_times(args.record)}")
        except (OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    missing = [name for name in ("nbformat", "nbclient") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"error: heygen-run-notebooks needs {' and '.join(missing)} (the kit's lab extra): "
              "pip install 'heygen-kit[lab]'", file=sys.stderr)
        return 2
    if args.profile:
        os.environ[ENV_VAR] = args.profile
    if os.environ.get(ENV_VAR) == REHEARSAL:
        from heygen_lib.rehearsal import ensure_models

        ensure_models()  # the full architectures with random weights: built once (about a minute), then reused
    try:
        profile = active_profile().name
        artifacts_dir(), data_dir()  # the settings every notebook reads, checked once here
    except SettingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    todo = notebooks_in_order(prefixes=args.prefixes)
    if not todo:
        parser.error(f"no notebooks match {args.prefixes} in {NOTEBOOK_DIR}")
    out_dir = runs_dir() / f"{datetime.now():%Y%m%d-%H%M%S}-{profile}"
    (out_dir / "figures").mkdir(parents=True)
    os.environ[RUN_DIR_ENV] = str(out_dir)  # each notebook's lesson checks are recorded beside its executed copy
    print(f"profile {profile}: executing {len(todo)} notebook(s) into {out_dir}")
    times: dict[str, dict] = {}
    for path in todo:
        times[path.stem] = timing = execute(path, out_dir)
        write_times(out_dir, profile, times)  # after each notebook: a stopped run keeps what it measured
        ok = timing["ok"]
        cpu = "" if timing["cpu_s"] is None else f", {timing['cpu_s']:.0f} s CPU"
        print(f"  {path.name}: {'ok' if ok else 'FAILED'} in {timing['wall_s']:.0f} s{cpu} (load at start "
              f"{timing['load_at_start'][0]:.1f})", flush=True)
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
