"""The main job's executed copies: a tqdm widget bar's text stand-in shows where the bar ended, not 0%."""

import nbformat

from heygen_lib.notebook_output import WIDGET_MIME
from heygen_lib.run_notebooks import WIDGET_STATE_MIME, refresh_progress_bars


def widget_output(model_id: str, text: str) -> dict:
    return nbformat.v4.new_output("display_data", data={WIDGET_MIME: {"model_id": model_id, "version_major": 2},
                                                        "text/plain": text})


def executed_notebook() -> nbformat.NotebookNode:
    """Two widget outputs as nbclient saves them: a finished tqdm bar (as tqdm.notebook lays it out, with its
    figure spaces and escaped HTML) and a slider, each with the text it had when first displayed."""
    state = {
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_pre", "IPY_MODEL_progress",
                                                                  "IPY_MODEL_post"]}},
        "pre": {"model_name": "HTMLModel", "state": {"value": "runs:\u2007100%"}},
        "progress": {"model_name": "FloatProgressModel", "state": {"value": 4.0, "max": 4.0}},
        "post": {"model_name": "HTMLModel", "state": {"value": "\u20074/4\u2007[00:12&lt;00:00,\u2007\u20073.00s/it]"}},
        "slider": {"model_name": "IntSliderModel", "state": {"value": 3}},
    }
    notebook = nbformat.v4.new_notebook(metadata={"widgets": {WIDGET_STATE_MIME: {"state": state}}})
    cell = nbformat.v4.new_code_cell("work()")
    cell.outputs = [widget_output("bar", "runs:   0%|          | 0/4 [00:00<?, ?it/s]"),
                    widget_output("slider", "IntSlider(value=3)")]
    notebook.cells.append(cell)
    return notebook


def test_a_finished_bar_reads_as_finished_and_other_widgets_keep_their_text():
    notebook = executed_notebook()
    assert refresh_progress_bars(notebook) == 1
    bar, slider = notebook.cells[0].outputs
    assert bar["data"]["text/plain"] == "runs: 100%|██████████| 4/4 [00:12<00:00,  3.00s/it]"
    assert slider["data"]["text/plain"] == "IntSlider(value=3)"


def test_a_bar_stopped_part_way_shows_where_it_stopped():
    notebook = executed_notebook()
    state = notebook.metadata["widgets"][WIDGET_STATE_MIME]["state"]
    state["pre"]["state"]["value"], state["progress"]["state"]["value"] = "runs:\u200725%", 1.0
    refresh_progress_bars(notebook)
    assert notebook.cells[0].outputs[0]["data"]["text/plain"].startswith("runs: 25%|██        |")


def test_a_notebook_without_saved_widget_state_is_left_as_it_is():
    notebook = executed_notebook()
    del notebook.metadata["widgets"]
    assert refresh_progress_bars(notebook) == 0
    assert notebook.cells[0].outputs[0]["data"]["text/plain"].startswith("runs:   0%")


def times_of(stems, profile="smoke"):
    return {"profile": profile, "cores": 2, "torch_threads": 2,
            "notebooks": {stem: {"ok": True, "wall_s": 90.0, "cpu_s": 150.0, "load_at_start": [0.5, 0.4, 0.3],
                                 "cells": []} for stem in stems}}


def test_recorded_times_fill_the_readme_column_from_the_run(tmp_path):
    import json

    from heygen_lib.run_notebooks import TIMES_FILE, notebooks_in_order, record_times

    stems = [nb.stem for nb in notebooks_in_order()]
    (tmp_path / TIMES_FILE).write_text(json.dumps(times_of(stems)))
    readme = tmp_path / "README.md"
    readme.write_text("# kit\n\n| | notebook | smoke time |\n|---|---|---|\n"
                      + "".join(f"| {stem[:2]} | x | old |\n" for stem in stems) + "\nmore text\n")
    record_times(tmp_path, readme, tmp_path / "kept.json")
    assert readme.read_text().count("| 1.5 min, 2.5 CPU-min (load 0.5) |") == len(stems)
    assert readme.read_text().endswith("\nmore text\n")
    assert json.loads((tmp_path / "kept.json").read_text())["notebooks"].keys() == set(stems)


def test_a_run_missing_a_notebook_is_not_recorded(tmp_path):
    import json

    import pytest

    from heygen_lib.run_notebooks import TIMES_FILE, notebooks_in_order, record_times

    stems = [nb.stem for nb in notebooks_in_order()][1:]
    (tmp_path / TIMES_FILE).write_text(json.dumps(times_of(stems)))
    with pytest.raises(ValueError, match="missing"):
        record_times(tmp_path, tmp_path / "README.md", tmp_path / "kept.json")


def test_the_readme_shows_the_recorded_smoke_times_of_every_notebook():
    import json

    from heygen_lib.run_notebooks import README, RECORDED_TIMES, notebooks_in_order, time_cell

    times = json.loads(RECORDED_TIMES.read_text())
    assert times["profile"] == "smoke"
    readme = README.read_text()
    for notebook in notebooks_in_order():
        assert f"| {time_cell(times['notebooks'][notebook.stem])} |" in readme, notebook.stem
