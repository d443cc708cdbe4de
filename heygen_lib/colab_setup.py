"""What the first cell of every notebook runs on Colab, before the kit is installed (standard library only).

The cell fetches this file from the kit's repository and calls `bootstrap`. It clones the kit (into a side folder,
renamed when complete, so a cut-off clone never looks finished), installs it, and writes an install marker only
after the install succeeded, so running the cell again repairs a half-done install. Then it hands over to
`heygen_lib.colab.finish_setup` (WordNet, Apertium) from the installed kit.
"""

import os
import subprocess
import sys

REPO = "https://github.com/heygen-kit/heygen-kit"
DRIVE_ARTIFACTS = "/content/drive/MyDrive/heygen-kit/artifacts"


def _run(what: str, command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit code {done.returncode}); re-run this cell to try again. "
                           f"Last output:\n{(done.stderr or done.stdout)[-1500:]}")


def bootstrap(keep_artifacts_on_drive: bool = False) -> None:
    """Clone and install the kit where missing, keep artifacts on Google Drive when asked, then finish the set-up."""
    kit = os.environ.get("HEYGEN_KIT_DIR", "/content/heygen-kit")
    repo = os.environ.get("HEYGEN_KIT_REPO", REPO)
    marker = os.path.join(kit, ".colab-installed")  # written only after the install succeeded
    if not os.path.isdir(kit):
        subprocess.run(["rm", "-rf", kit + ".part"])
        _run(f"cloning {repo}", ["git", "clone", "--quiet", "--depth", "1", repo, kit + ".part"])
        os.rename(kit + ".part", kit)
    if not os.path.isfile(marker):
        print("installing the kit and its dependencies (about a minute)...")
        _run("installing the kit", [sys.executable, "-m", "pip", "install", "-q", "-e", kit])
        open(marker, "w").close()
    if keep_artifacts_on_drive and "HEYGEN_ARTIFACTS_DIR" not in os.environ:
        from google.colab import drive

        drive.mount("/content/drive")
        os.environ["HEYGEN_ARTIFACTS_DIR"] = DRIVE_ARTIFACTS
    sys.path.insert(0, kit)
    os.chdir(os.path.join(kit, "notebooks"))
    from heygen_lib.colab import finish_setup

    finish_setup()
