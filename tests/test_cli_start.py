"""The kit's commands start fast: ``--help`` (and any mistake caught before the work) never imports torch or
transformers, which take most of a minute to load on a busy 2-core machine. Checked by what is imported, not by a
clock."""

import subprocess
import sys

import pytest

from heygen_lib.paths import PROJECT_ROOT

HEAVY = ("torch", "transformers")


def run_module(module: str, *args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``python -m module args`` in a child; returns the result and the heavy modules it had imported when it
    ended (the last line of stderr)."""
    code = ("import runpy, sys\n"
            f"sys.argv = [{module!r}, *sys.argv[1:]]\n"
            "try:\n"
            f"    runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
            "except SystemExit as end:\n"
            "    status = end.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
            "sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env=env, timeout=300)
    *_, last = done.stderr.strip().splitlines()
    return done, eval(last)


@pytest.mark.parametrize("module, flags", [
    ("heygen_lib.chat", ["--model", "--feedback", "--strategy", "--max-new-tokens"]),
    ("heygen_lib.nlg", ["--profile", "--model", "--corpus", "--output", "--freeze", "--resume"]),
    ("heygen_lib.dialogue_gan", ["--profile", "--model", "--steps", "--sample-shards"]),
])
def test_help_answers_without_importing_torch_or_transformers(module, flags):
    done, heavy = run_module(module, "--help")
    assert done.returncode == 0 and heavy == []
    assert done.stdout.startswith(f"usage: python -m {module} ")
    for flag in flags:
        assert flag in done.stdout


def test_the_fine_tuning_help_names_every_freezing_strategy():
    from heygen_lib.nlg.finetune import FREEZE_STRATEGIES

    done, _ = run_module("heygen_lib.nlg", "--help")
    text = " ".join(done.stdout.split())
    assert all(name in text for name in FREEZE_STRATEGIES), text
