import pytest
from transformers.utils import logging as hf_logging

from heygen_lib.quiet import quiet_file_progress


def test_file_bars_are_off_inside_and_back_on_after_even_when_the_block_fails():
    hf_logging.enable_progress_bar()
    with pytest.raises(RuntimeError):
        with quiet_file_progress():
            assert not hf_logging.is_progress_bar_enabled()
            raise RuntimeError("load failed")
    assert hf_logging.is_progress_bar_enabled()


def test_bars_switched_off_before_stay_off_after():
    hf_logging.disable_progress_bar()
    try:
        with quiet_file_progress():
            pass
        assert not hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.enable_progress_bar()
