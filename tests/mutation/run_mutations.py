"""Mutation testing of the kit's core modules: how many realistic bugs would the unit tests catch?

    .venv/bin/python -m pip install -e '.[mutation]'      # once: mutmut
    .venv/bin/python tests/mutation/run_mutations.py       # every core module, about 10-20 min on 2 cores
    .venv/bin/python tests/mutation/run_mutations.py heygen_lib/jsonl_log.py --show-survivors
    .venv/bin/python tests/mutation/run_mutations.py --named         # the bugs listed in NAMED, one by one (no mutmut)

mutmut (https://github.com/boxed/mutmut) changes one thing at a time in a module (an operator, a constant, a
comparison, an argument) and runs the tests that cover the changed function; a change no test notices "survived".
This script runs it on a copy of the working tree in a temporary folder (nothing in the checkout is touched) and
prints the kill rate per module. It is not part of `make test`: run it after changing a core module or its tests,
and look at each survivor: a missing assertion, or a change that cannot matter (an equivalent mutant: leave it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Each core module and the test files that pin its behaviour (mutmut runs, per mutant, those of them that reach it).
CORE = {
    "heygen_lib/gan/rewards.py": ["tests/test_rewards.py", "tests/test_mutations_killed.py"],
    "heygen_lib/gan/losses.py": ["tests/test_losses.py", "tests/test_mutations_killed.py"],
    "heygen_lib/nlg/rows.py": ["tests/test_nlg_rows.py", "tests/test_nlg_seq2seq.py", "tests/test_chat_chatbot.py",
                               "tests/test_mutations_killed.py"],
    "heygen_lib/data/pairs.py": ["tests/test_pairs.py", "tests/test_mutations_killed.py"],
    "heygen_lib/jsonl_log.py": ["tests/test_jsonl_log.py", "tests/test_mutations_killed.py"],
    "heygen_lib/checkpoints.py": ["tests/test_checkpoints.py", "tests/test_training.py",
                                  "tests/test_mutations_killed.py"],
}
# Realistic bugs that once survived the tests (issue 19), kept as regression checks: (file, text, replacement, bug).
NAMED = [
    ("heygen_lib/gan/training.py", 'if self.config.loss == "wgan-gp":', 'if self.config.loss == "wgan_gp":',
     "WGAN-GP's gradient penalty never applied (loss name misspelt)"),
    ("heygen_lib/checkpoints.py", "tmp = temporary_path(path)", "tmp = path",
     "checkpoint written straight to its final path (not atomic)"),
    ("heygen_lib/checkpoints.py", "map_location=device, weights_only=True", "map_location=device, weights_only=False",
     "checkpoint loaded with weights_only=False"),
    ("heygen_lib/jsonl_log.py", "fcntl.flock(fd, fcntl.LOCK_EX)", "pass", "append lock removed"),
    ("heygen_lib/jsonl_log.py", 'cut = not raw.endswith(b"\\n") and number == raw.count(b"\\n") + 1',
     'cut = not raw.endswith(b"\\n")', "a bad line in the middle of a file called cut short"),
    ("heygen_lib/nlg/rows.py", "context_cut = len(prompt) + len(kept_target) > max_length",
     "context_cut = len(prompt) + len(kept_target) >= max_length", "a row of exactly max_length reported as cut"),
    ("heygen_lib/nlg/rows.py", "len(kept_target) < len(target), full_length", "len(kept_target) <= len(target), full_length",
     "a response of exactly the room left reported as cut"),
]
NAMED_TESTS = ["tests/test_mutations_killed.py", "tests/test_checkpoints.py", "tests/test_training.py",
               "tests/test_jsonl_log.py", "tests/test_nlg_rows.py"]
TARGET_RATE = 90.0
KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"skipped", "not checked", "check was interrupted by user"}


def copy_tree(destination: Path) -> None:
    """The working tree as it is now (tracked and untracked-but-not-ignored files), without caches or outputs."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def mutmut_config(modules: list[str], tests: list[str]) -> str:
    listed = lambda items: "[" + ", ".join(json.dumps(i) for i in items) + "]"  # noqa: E731
    return f"""
[tool.mutmut]
source_paths = ["heygen_lib"]
only_mutate = {listed(modules)}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-o", "addopts=", "-q"]
pytest_add_cli_args_test_selection = {listed(tests)}
process_isolation = "forkserver"
also_copy = ["data"]
"""


def kill_rates(work: Path, modules: list[str]) -> dict[str, dict[str, list[str]]]:
    """Per module: mutant names by status, read from mutmut's result files."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for module in modules:
        meta = work / "mutants" / (module + ".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        by_status: dict[str, list[str]] = {}
        for name, code in sorted(codes.items()):
            by_status.setdefault(status_by_exit_code[code], []).append(name)
        found[module] = by_status
    return found


def run_named(env: dict[str, str]) -> int:
    """Apply each NAMED bug alone to a fresh copy and run the tests that should catch it; 1 if any survives."""
    survived = 0
    for file, text, replacement, bug in NAMED:
        with tempfile.TemporaryDirectory(prefix="heygen-named-mutation-") as folder:
            work = Path(folder)
            copy_tree(work)
            source = (work / file).read_text()
            if source.count(text) != 1:
                print(f"?  {bug}: {file} no longer contains the text to change; update NAMED")
                survived += 1
                continue
            (work / file).write_text(source.replace(text, replacement))
            run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                                  *NAMED_TESTS], cwd=work, env=env, capture_output=True, text=True)
            caught = [line.split(" - ")[0].removeprefix("FAILED ") for line in run.stdout.splitlines()
                      if line.startswith("FAILED")]
            if run.returncode == 0:
                survived += 1
            print(f"{'killed  ' if run.returncode else 'SURVIVED'} {bug} ({file})" + (f": {caught[0]}" if caught else ""),
                  flush=True)
    print(f"{len(NAMED) - survived} of {len(NAMED)} named bugs caught")
    return 1 if survived else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", default=list(CORE), help="modules to mutate (default: the core six)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--show-survivors", action="store_true", help="print the diff of every surviving mutant")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    parser.add_argument("--named", action="store_true", help="check only the bugs listed in NAMED")
    args = parser.parse_args(argv)
    # The copy must import itself, never the checkout a PYTHONPATH may point at.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and Path(p).resolve() != ROOT)
    env["HEYGEN_PROFILE"] = "smoke"
    if args.named:
        return run_named(env)
    try:
        import mutmut  # noqa: F401
    except ImportError:
        parser.error("mutmut is not installed: .venv/bin/python -m pip install -e '.[mutation]'")
    unknown = [m for m in args.modules if m not in CORE]
    if unknown:
        parser.error(f"no test files listed for {unknown}; add them to CORE in {Path(__file__).relative_to(ROOT)}")
    tests = sorted({t for m in args.modules for t in CORE[m]})
    work = Path(tempfile.mkdtemp(prefix="heygen-mutation-"))
    try:
        copy_tree(work)
        with (work / "pyproject.toml").open("a") as f:
            f.write(mutmut_config(args.modules, tests))
        env["HEYGEN_ARTIFACTS_DIR"] = str(work / "artifacts")
        print(f"mutating {len(args.modules)} module(s), tests: {' '.join(tests)}", flush=True)
        run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)], cwd=work,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            print(run.stderr[-3000:], file=sys.stderr)
            return run.returncode
        rates = kill_rates(work, args.modules)
        print(f"\n{'module':<28} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} {'kill rate':>9}")
        below = []
        for module, by_status in rates.items():
            tested = sum(len(v) for s, v in by_status.items() if s not in NOT_RUN)
            killed = sum(len(v) for s, v in by_status.items() if s in KILLED)
            rate = 100.0 * killed / tested if tested else float("nan")
            below += [module] if not rate >= TARGET_RATE else []
            print(f"{module.removeprefix('heygen_lib/'):<28} {tested:>7} {killed:>6} "
                  f"{len(by_status.get('survived', [])):>8} {len(by_status.get('no tests', [])):>8} {rate:>8.1f}%")
        print(f"target: at least {TARGET_RATE:.0f}% per module; below it: {', '.join(below) or 'none'}")
        if args.show_survivors:
            for module, by_status in rates.items():
                for name in by_status.get("survived", []) + by_status.get("no tests", []):
                    shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, env=env,
                                           capture_output=True, text=True)
                    print(shown.stdout)
        return 0
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
