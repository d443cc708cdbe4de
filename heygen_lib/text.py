"""The one word tokenizer the kit's statistics and metrics share."""

from __future__ import annotations

import re

# Words (keeping inner apostrophes: "don't", "it's"), numbers, and single punctuation marks or symbols.
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def word_tokens(text: str, lowercase: bool = True) -> list[str]:
    """Split text into word and punctuation tokens: ``"Hi, I'm here!"`` -> ``["hi", ",", "i'm", "here", "!"]``."""
    return _TOKEN.findall(text.lower() if lowercase else text)
