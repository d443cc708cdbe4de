from heygen_lib.data import build_pairs
from heygen_lib.data.pairs import split_dialogues
from heygen_lib.source_view import source_markdown


def test_source_markdown_shows_the_running_code_in_python_blocks_named_by_module():
    text = source_markdown(build_pairs, split_dialogues)
    first, second = text.split("\n\n`heygen_lib")
    assert first.startswith("`heygen_lib.data.pairs.build_pairs`\n```python\ndef build_pairs(") and first.endswith("```")
    assert "response.speaker == response_speaker" in first
    assert second.startswith(".data.pairs.split_dialogues`\n```python\ndef split_dialogues(")
    assert "random.Random(seed).shuffle" in second
