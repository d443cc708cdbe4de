"""A Colab rehearsal: the bootstrap cell, run as Colab would run it, against a local clone of this working tree (the
set-up script it fetches is read from the working tree through a file:// URL).

Each run is a fresh Python process with a fake ``google.colab`` module, a fake `pip` (recording its arguments; the
real one would reinstall the shared virtual environment), a fake `apt-get` and an `apertium` that knows no language
pair, and NLTK with no data folders, whose `download` is mocked by copying WordNet from a folder the test assembled.
The cell clones the kit from a ``file://`` URL (``HEYGEN_KIT_REPO``) into a temporary folder (``HEYGEN_KIT_DIR``).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from heygen_lib.augment.wordnet import DEBIAN_DIR, install_wordnet
from heygen_lib.colab import BOOTSTRAP_CELL
from heygen_lib.paths import PROJECT_ROOT

DRIVER = textwrap.dedent('''
    import json, os, shutil, sys, types

    def record(*entry):
        with open(os.environ["REHEARSAL_LOG"], "a") as log:
            log.write(json.dumps(entry) + "\\n")

    google, colab, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))
    drive.mount = lambda path, **kw: record("mount", path)
    google.colab, colab.drive = colab, drive
    sys.modules.update({"google": google, "google.colab": colab, "google.colab.drive": drive})

    import nltk
    nltk.data.path[:] = []  # WordNet absent: only what the kit's own folder holds counts

    def download(name, download_dir=None, quiet=False):
        record("nltk.download", name, download_dir)
        shutil.copytree(os.environ["REHEARSAL_WORDNET"], os.path.join(download_dir, "corpora", "wordnet"))
        return True

    nltk.download = download
    cell = open(os.environ["REHEARSAL_CELL"]).read().replace("KEEP_ARTIFACTS_ON_DRIVE = False",
                                                             "KEEP_ARTIFACTS_ON_DRIVE = " + os.environ["REHEARSAL_DRIVE"])
    try:
        exec(compile(cell, "bootstrap cell", "exec"), {"__name__": "__main__"})
    except RuntimeError as err:
        record("error", str(err))
        sys.exit(3)
    import heygen_lib
    from heygen_lib.augment.wordnet import load_wordnet
    record("done", heygen_lib.__file__, os.getcwd(), os.environ.get("HEYGEN_ARTIFACTS_DIR"),
           len(load_wordnet().synsets("car")))
''')

FAKE_PIP = 'import json, os, sys\nopen(os.environ["REHEARSAL_LOG"], "a").write(json.dumps(["pip", *sys.argv[1:]]) + "\\n")\n' \
           'sys.exit(int(os.environ.get("REHEARSAL_PIP_EXIT", "0")))\n'
FAKE_APT = '#!/bin/sh\necho "[\\"apt-get\\", \\"$*\\"]" >> "$REHEARSAL_LOG"\nexit 100\n'
NO_PAIRS = "#!/bin/sh\nexit 0\n"  # `apertium -l` listing no language pair


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """A file:// repository holding this working tree as it is now (tracked and untracked, not ignored), the fakes,
    and a function that runs the bootstrap cell once and returns what it recorded."""
    if not (DEBIAN_DIR / "index.noun").is_file():
        pytest.skip("needs Debian's wordnet-base to stand in for the WordNet download (make setup installs it)")
    root = tmp_path_factory.mktemp("colab")
    repo = root / "origin.git"
    git = ["git", f"--git-dir={repo}", f"--work-tree={PROJECT_ROOT}", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    listed = subprocess.run(["git", "-C", str(PROJECT_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True, text=True).stdout.split("\0")
    present = "\0".join(name for name in listed if name and (PROJECT_ROOT / name).is_file())
    subprocess.run([*git, "add", "--pathspec-from-file=-", "--pathspec-file-nul"], input=present, text=True, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "working tree"], check=True)

    fakes = root / "fakes"
    (fakes / "pip").mkdir(parents=True)
    (fakes / "pip" / "__init__.py").write_text("")
    (fakes / "pip" / "__main__.py").write_text(FAKE_PIP)
    (fakes / "bin").mkdir()
    for name, script in (("apt-get", FAKE_APT), ("apertium", NO_PAIRS)):
        (fakes / "bin" / name).write_text(script)
        (fakes / "bin" / name).chmod(0o755)
    wordnet = install_wordnet(data_dir=root / "wordnet-download")
    (root / "driver.py").write_text(DRIVER)
    (root / "cell.py").write_text(BOOTSTRAP_CELL)
    kit = root / "content" / "heygen-kit"

    def run(pip_exit=0, drive=False, repo_url=f"file://{repo}"):
        log = root / "log.jsonl"
        log.unlink(missing_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("HEYGEN_", "NLTK_"))}
        env.update(PYTHONPATH=str(fakes), PATH=f"{fakes / 'bin'}:{env['PATH']}", HOME=str(root),
                   HEYGEN_KIT_DIR=str(kit), HEYGEN_KIT_REPO=repo_url, REHEARSAL_LOG=str(log),
                   HEYGEN_SETUP_URL=(PROJECT_ROOT / "heygen_lib" / "colab_setup.py").as_uri(),
                   REHEARSAL_WORDNET=str(wordnet), REHEARSAL_CELL=str(root / "cell.py"),
                   REHEARSAL_DRIVE=str(drive), REHEARSAL_PIP_EXIT=str(pip_exit))
        done = subprocess.run([sys.executable, str(root / "driver.py")], env=env, cwd=root, capture_output=True,
                              text=True, timeout=120)
        entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return done, entries

    run.kit = kit
    return run


def test_bootstrap_clone_failure_says_what_failed_and_leaves_nothing_half_done(rehearsal):
    done, log = rehearsal(repo_url="file:///nowhere/heygen-kit")
    assert done.returncode == 3, done.stderr
    (kind, message), = log
    assert kind == "error" and message.startswith("cloning file:///nowhere/heygen-kit failed (exit code 128)")
    assert "re-run this cell to try again" in message
    assert not rehearsal.kit.exists()


def test_bootstrap_on_a_fresh_runtime_then_rerun_after_a_failed_install(rehearsal):
    # 1. pip fails: the cell stops with a clear message and writes no install marker.
    done, log = rehearsal(pip_exit=1)
    assert done.returncode == 3, done.stderr
    assert log[0][:5] == ["pip", "install", "-q", "-e", str(rehearsal.kit)]
    assert log[1][0] == "error" and log[1][1].startswith("installing the kit failed (exit code 1)")
    assert (rehearsal.kit / "notebooks" / "01_dialogue_data.ipynb").is_file()
    assert not (rehearsal.kit / ".colab-installed").exists()

    # 2. Re-running the cell repairs it: installs again, fetches WordNet, tries Apertium, imports the clone's kit.
    done, log = rehearsal()
    assert done.returncode == 0, done.stderr
    kinds = [entry[0] for entry in log]
    assert kinds == ["pip", "nltk.download", "apt-get", "apt-get", "done"], log
    assert log[1][1:] == ["wordnet", str(rehearsal.kit / ".nltk_data")]
    assert log[3][1] == "-qq install -y apertium apertium-eng-spa"
    lib, cwd, artifacts, car_senses = log[-1][1:]
    assert lib == str(rehearsal.kit / "heygen_lib" / "__init__.py") and cwd == str(rehearsal.kit / "notebooks")
    assert artifacts is None and car_senses == 5
    assert (rehearsal.kit / ".colab-installed").is_file()
    out = done.stdout
    assert "WordNet: downloaded into .nltk_data/" in out
    assert "Apertium: not available (apt-get install apertium apertium-eng-spa exited with 100)" in out
    assert "artifacts are kept in artifacts/" in out

    # 3. Once installed, a new session's run (here with Drive ticked) installs nothing again and finds WordNet.
    done, log = rehearsal(drive=True)
    assert done.returncode == 0, done.stderr
    assert [entry[0] for entry in log] == ["mount", "apt-get", "apt-get", "done"]
    assert log[0][1] == "/content/drive" and log[-1][3] == "/content/drive/MyDrive/heygen-kit/artifacts"
    assert "WordNet: ready" in done.stdout
    assert "artifacts are kept in /content/drive/MyDrive/heygen-kit/artifacts/" in done.stdout
