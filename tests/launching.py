"""Starting a test file as the worker of ``torchrun --standalone --nproc_per_node N`` (gloo on the CPU), for the tests
that compare several processes with one: every process runs the file's ``__main__`` block with `args`."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def torchrun(worker: str, args: list[str], artifacts: Path, processes: int = 2) -> subprocess.CompletedProcess:
    """Run `worker` (a script path) in `processes` processes with artifacts under `artifacts`, one thread each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HEYGEN_ARTIFACTS_DIR": str(artifacts), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               worker, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "Signal 6 (SIGABRT)" in done.stderr:
        # gloo on a loaded CPU, rarely (seen once in five runs): a process aborts inside the transport. Launch once
        # more; the workers' own failures are exit codes and tracebacks, never this signal.
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    return done


def announce_writes(module) -> None:
    """In a worker: make `module.save_trainer` print which process wrote each checkpoint, so a test can check that
    only rank 0 writes."""
    from heygen_lib import distributed

    save = module.save_trainer

    def announced(path, *args, **kwargs):
        print(f"checkpoint written by rank {distributed.rank()}: {Path(path).name}", flush=True)
        return save(path, *args, **kwargs)

    module.save_trainer = announced
