"""User settings are checked where they are read: a setting that cannot work is one line naming it, its value and
what would work, in Jupyter and at the command line, and a hub name without network fails without waiting."""

import socket
import threading

import pytest

from heygen_lib import settings
from heygen_lib.settings import SettingError, model_name_or_folder

NO_NETWORK = "no network: use a folder or unset HEYGEN_MODEL"


def shown_in_jupyter(code: str, capsys) -> str:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance().run_cell(code)
    return capsys.readouterr().out.strip()


def test_heygen_model_naming_a_missing_folder_stops_the_notebook_cell_with_one_line(monkeypatch, tmp_path, capsys):
    missing = tmp_path / "my-model"
    monkeypatch.setenv("HEYGEN_MODEL", str(missing))
    shown = shown_in_jupyter("from heygen_lib.nlg.finetune import base_model\nbase_model()", capsys)
    assert shown == (f"SettingError: HEYGEN_MODEL='{missing}' names no folder (nothing is there); give a saved "
                     "model's folder or a hub name, or unset HEYGEN_MODEL")


def test_heygen_model_naming_a_folder_without_a_model_says_so(monkeypatch, tmp_path):
    from heygen_lib.nlg.finetune import base_model

    monkeypatch.setenv("HEYGEN_MODEL", str(tmp_path))
    with pytest.raises(SettingError, match=r"HEYGEN_MODEL='.*' holds no saved model \(no config.json\)"):
        base_model()
    (tmp_path / "config.json").write_text("{}")
    assert base_model() == str(tmp_path)


@pytest.fixture
def no_network(monkeypatch):
    """Every connection hangs, as a name lookup or a dropped packet does on a machine without network; `release`
    lets the hung connections end once the test is done."""
    release, calls = threading.Event(), []

    def hang(address, timeout=None):
        calls.append(address)
        release.wait(30)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", hang)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield calls
    release.set()


def test_a_hub_name_without_network_is_refused_without_waiting_for_the_connection(no_network):
    with pytest.raises(SettingError) as caught:
        model_name_or_folder("someorg/some-model", "HEYGEN_MODEL")
    assert str(caught.value) == ("HEYGEN_MODEL='someorg/some-model' is no folder here and not in the hub cache, and "
                                 f"there is {NO_NETWORK}")
    assert no_network == [("huggingface.co", 443)]  # asked once, and gave up while the connection still hung
    assert settings.HUB_TIMEOUT_S < 2


def test_hf_hub_offline_means_no_network_without_trying(no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SettingError, match=NO_NETWORK):
        model_name_or_folder("distilgpt2-not-downloaded", "HEYGEN_MODEL")
    assert no_network == []


def test_the_network_check_connects_to_the_hub_or_its_proxy(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        assert settings.hub_reachable()
        monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        assert settings.hub_reachable()
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")  # closed now: refused
    assert not settings.hub_reachable()


def test_a_downloaded_hub_model_is_accepted_without_network(no_network, monkeypatch, tmp_path):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--someorg--cached" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--someorg--cached" / "refs").mkdir()
    (tmp_path / "models--someorg--cached" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_name_or_folder("someorg/cached", "HEYGEN_MODEL") == "someorg/cached"
    assert no_network == []


@pytest.mark.parametrize("value", ["some model", "org/name/extra/../x", "-name"])
def test_a_value_that_is_neither_folder_nor_hub_name_is_refused(value):
    with pytest.raises(SettingError, match="is neither a folder nor a hub name|names no folder"):
        model_name_or_folder(value, "--model")
