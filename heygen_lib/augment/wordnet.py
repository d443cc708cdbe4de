"""WordNet for the synonym augmenters, offline: NLTK's reader over the kit's own `.nltk_data/` folder.

NLTK's WordNet reader wants the WordNet 3.0 database in ``<an NLTK data folder>/corpora/wordnet/``. Two ways there:

* Debian or Ubuntu: ``apt-get install wordnet-base wordnet-sense-index`` puts the database in /usr/share/wordnet,
  then ``python -m heygen_lib.augment.wordnet`` copies it into ``.nltk_data/`` in the project. A copy, not links:
  NLTK reads only inside its data folders, and a link out of them counts as outside. Debian leaves out one file NLTK needs, `lexnames` (the
  numbered list of WordNet's 45 lexicographer files), so it is written here from the list in lexnames(5WN).
* Anywhere else, Colab included: ``nltk.download("wordnet")``.

`load_wordnet` finds either one.
"""

from __future__ import annotations

import functools
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from heygen_lib.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

DEBIAN_DIR = Path("/usr/share/wordnet")
DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")
NLTK_DATA = PROJECT_ROOT / ".nltk_data"

# The database files NLTK's reader opens, all in Debian's two packages (index.sense in wordnet-sense-index).
DATABASE_FILES = (
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")),
    *(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")),
    "index.sense",
    "cntlist.rev",  # how often each sense was tagged in a corpus: what orders senses and `Lemma.count()` reads
)
# WordNet 3.0's lexicographer files, in file-number order (00-44).
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
    "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
    "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
    "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}  # lexnames' third column

HOW_TO_GET = (
    f"WordNet is not installed. On Debian or Ubuntu: `sudo apt-get install {' '.join(DEBIAN_PACKAGES)}`, then "
    "`python -m heygen_lib.augment.wordnet` (`make setup` does both when run as root). "
    "Elsewhere, Colab included: `python -c 'import nltk; nltk.download(\"wordnet\")'`."
)


class WordNetMissing(LookupError):
    """WordNet cannot be found; the message says how to get it."""


def lexnames_text() -> str:
    """The `lexnames` file: one ``number<TAB>name<TAB>category`` line per lexicographer file."""
    return "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def install_wordnet(source: Path = DEBIAN_DIR, data_dir: Path = NLTK_DATA) -> Path:
    """Copy the WordNet database from `source` into ``data_dir/corpora/wordnet`` and write `lexnames` there.

    Returns that folder. Idempotent: files already in place (same size and modification time) are not copied again.
    Files are made private to their owner (no group or world write), as NLTK requires before it reads them.
    """
    missing = [name for name in DATABASE_FILES if not (source / name).is_file()]
    if missing:
        what = "WordNet database" if len(missing) == len(DATABASE_FILES) else ", ".join(missing)
        raise WordNetMissing(f"{source} has no {what}. {HOW_TO_GET}")
    corpus = data_dir / "corpora" / "wordnet"
    corpus.mkdir(parents=True, exist_ok=True)
    for folder in (data_dir, corpus.parent, corpus):
        _set_mode(folder, 0o755)
    for name in DATABASE_FILES:
        src, dst = (source / name).stat(), corpus / name
        if not dst.exists() or (dst.stat().st_size, dst.stat().st_mtime) != (src.st_size, src.st_mtime):
            shutil.copy2(source / name, dst)
        _set_mode(dst, 0o644)
    lexnames = corpus / "lexnames"
    if not lexnames.exists() or lexnames.read_text() != lexnames_text():
        lexnames.write_text(lexnames_text())
    _set_mode(lexnames, 0o644)
    return corpus


def _set_mode(path: Path, mode: int) -> None:
    if path.stat().st_mode & 0o777 != mode:
        path.chmod(mode)


@functools.cache
def load_wordnet() -> WordNetCorpusReader:
    """NLTK's WordNet reader, from ``.nltk_data/`` or any of NLTK's own data folders; loaded once per process.

    English only: NLTK's reader builds, at every load, a map from WordNet 3.0's senses to the loaded version's for its
    multilingual lookups, even when the loaded version is 3.0 itself (two passes over the sense index: on the kit's
    2-core machine, 4.7 CPU-s to load with it, 2.7 without); the kit never makes those lookups, so it is skipped.
    Raises `WordNetMissing`, saying how to get WordNet, when there is none.
    """
    import nltk
    from nltk.corpus.reader import CorpusReader
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    class EnglishWordNet(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:
            return None  # the sense map serves only the multilingual lookups

    if str(NLTK_DATA) not in nltk.data.path:
        nltk.data.path.append(str(NLTK_DATA))
    for where in ("corpora/wordnet", "corpora/wordnet.zip/wordnet/"):  # a folder, or nltk.download's zip
        try:
            root = nltk.data.find(where)
            break
        except LookupError:
            continue
    else:
        raise WordNetMissing(HOW_TO_GET)
    # The multilingual data, as NLTK's own loader names it: read only if a multilingual lookup asks for it.
    multilingual = LazyCorpusLoader("omw-1.4", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8")
    return EnglishWordNet(root, multilingual)


def wordnet_available() -> bool:
    """Whether `load_wordnet` finds WordNet (the kit's copy or NLTK's download)."""
    try:
        load_wordnet()
    except WordNetMissing:
        return False
    return True


def main() -> int:
    """Set up WordNet in ``.nltk_data/`` from Debian's packages; say how to get it when they are missing."""
    try:
        corpus = install_wordnet()
    except WordNetMissing:
        import nltk  # slow to import (seconds): only when it has to look

        try:
            found = nltk.data.find("corpora/wordnet")  # e.g. from nltk.download("wordnet")
        except LookupError:
            print(HOW_TO_GET, file=sys.stderr)
            return 1
        print(f"WordNet: Debian's packages are not installed; using NLTK's copy at {found}")
        return 0
    print(f"WordNet 3.0 ready in {corpus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
