"""User settings, checked once where they are read.

A setting a person chose (an environment variable such as ``HEYGEN_MODEL``, a path given to a command) that cannot
work stops the kit at once with one line: the setting, its value, and what would work. Without the check, a missing
folder surfaces thirty frames deep in another library ("Repo id must be in the form..."), and a hub name on a
machine without network costs most of a minute of retries before the same kind of error.

`SettingError` is a ``ValueError`` that Jupyter shows as its message alone (IPython's ``_render_traceback_`` hook) and
that the kit's commands print as one ``error:`` line with exit status 2.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

HUB_TIMEOUT_S = 1.5  # how long the network check waits for the hub: a hub name fails in under 2 s when offline
# A hub name: "distilgpt2" or "org/name" (letters, digits, "-", "_", "."; what the hub accepts as a repository id).
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
_TRUE = {"1", "on", "yes", "true"}


class SettingError(ValueError):
    """A user's setting that cannot work. Not a bug: Jupyter shows the message alone, without a traceback, and the
    kit's commands print it as one line."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def setting_error(setting: str, value: object, says: str) -> SettingError:
    """``HEYGEN_X='value' <says>`` for an environment variable, ``--flag value <says>`` for a command's flag."""
    shown = f"{setting} {value}" if setting.startswith("-") else f"{setting}={str(value)!r}"
    return SettingError(f"{shown} {says}")


def input_folder(value: str | Path, setting: str, remedy: str) -> Path:
    """`value` as a folder that must already exist (data to read); else a `SettingError` ending in `remedy`."""
    folder = Path(value).expanduser()
    if not folder.exists():
        raise setting_error(setting, value, f"names no folder (nothing is there); {remedy}")
    if not folder.is_dir():
        raise setting_error(setting, value, f"is a file, not a folder; {remedy}")
    return folder


def output_folder(value: str | Path, setting: str, remedy: str) -> Path:
    """`value` as a folder the kit can write into: one that exists and is writable, or one that can be created
    (its nearest existing parent is a writable folder); else a `SettingError` ending in `remedy`."""
    folder = Path(value).expanduser()
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        raise setting_error(setting, value, f"{where}, not a folder; {remedy}")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "is a folder" if existing == folder else f"would go inside {existing}, a folder"
        raise setting_error(setting, value, f"{where} you cannot write to; {remedy}")
    return folder


def model_name_or_folder(value: str, setting: str) -> str:
    """`value` (a hub name or a saved model's folder) if ``from_pretrained`` can load it now: a folder with a
    ``config.json``, or a hub name that is in the local hub cache or reachable over the network. Else a
    `SettingError`, within `HUB_TIMEOUT_S` when there is no network (instead of a minute of download retries)."""
    unset = f", or unset {setting}" if not setting.startswith("-") else ""
    path = Path(value).expanduser()
    looks_like_path = value.startswith(("/", ".", "~")) or value.count("/") > 1 or os.sep != "/" and os.sep in value
    if path.is_dir() or looks_like_path:
        if not path.exists():
            raise setting_error(setting, value, f"names no folder (nothing is there); give a saved model's folder or "
                                                f"a hub name{unset}")
        if not (path / "config.json").is_file():
            raise setting_error(setting, value, "holds no saved model (no config.json); give the folder that "
                                                f"save_pretrained wrote{unset}")
        return str(path)
    if not _HUB_NAME.fullmatch(value) or ".." in value or "--" in value:
        raise setting_error(setting, value, f"is neither a folder nor a hub name (like distilgpt2 or org/name); give "
                                            f"a saved model's folder or a hub name{unset}")
    if not in_hub_cache(value) and not hub_reachable():
        raise setting_error(setting, value, f"is no folder here and not in the hub cache, and there is no network: "
                                            f"use a folder{unset.replace(',', '')}")
    return value


def in_hub_cache(name: str) -> bool:
    """Whether the hub model `name` was downloaded before (its config is in the local hub cache)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # a name the hub's own rules refuse (e.g. over 96 characters) is in no cache
        return False


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether the model hub (``HF_ENDPOINT``, or its proxy) answers a connection within `timeout` seconds; False
    at once when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set. The connection is tried in a thread, so a
    name lookup that hangs costs `timeout` too, not the system's own timeout."""
    if any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    proxy = next((os.environ[name] for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
                  if endpoint.scheme == "https" and os.environ.get(name)), "")
    target = urlsplit(proxy if "//" in proxy else f"http://{proxy}") if proxy else endpoint
    address = (target.hostname or "", target.port or (443 if target.scheme == "https" else 80))
    answered, done = [], threading.Event()

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            answered.append(True)
        except OSError:  # refused, unreachable, no such host
            pass
        finally:
            done.set()

    threading.Thread(target=connect, name="heygen-hub-check", daemon=True).start()
    done.wait(timeout)
    return bool(answered)
