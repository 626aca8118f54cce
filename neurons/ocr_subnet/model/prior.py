"""The open-vocabulary language prior: a general word list and a character n-gram fitted on general text.

The corrections (`correction`) weigh the recognizer's reading against a lexicon and a character
model. Both used to come from the validator's invoice templates, so they turned real words into
Faker's ("than the cost" -> "Chan Le Cost"). This prior encodes no template:
- words: Debian's `wamerican` list (`challenge.words`) and the names and places Faker draws;
- text: English from Debian's own files on this machine (the common licences and each package's
  copyright file), lines deduplicated, mixed with the strings of the open challenge families
  (letters, receipts, columns, tables, forms: open vocabulary with the numbers, dates, amounts and
  codes a page carries). Never an invoice's strings.
Held out: the Apache-2.0 licence (any line of it, wherever it is quoted) is never fitted, so prose pages
set from it measure the prior on unseen text; and the packages whose documentation the real-PDF evaluation
and calibration read are skipped whole. The corpus is sorted and capped, so one machine's packages give one prior.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ocr_subnet.challenge.generate import derive_seeds, page_layout
from ocr_subnet.challenge.words import accented_vocabulary
from ocr_subnet.challenge.words import vocabulary as english_words
from ocr_subnet.model.charset import ALPHABET
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import WORD, Lexicon, faker_words

LICENSES = Path("/usr/share/common-licenses")
DOCS = Path("/usr/share/doc")
HELD_OUT = LICENSES / "Apache-2.0"  # prose benchmarks are set from it
# The packages whose documentation the real-PDF evaluation reads, then those whose documentation calibrates.
HELD_OUT_PACKAGES = re.compile(
    r"tasn1|bzip2|bz2|nettle|valgrind|shared-mime-info|zlib|fontconfig"
    r"|flex-doc|libgcrypt20-doc|libmpfr-doc|gprolog-doc|xorg-docs"
)
# Their info manuals too, named for the library rather than the package.
HELD_OUT_MANUALS = re.compile(HELD_OUT_PACKAGES.pattern + r"|gcrypt|mpfr")
INFO = Path("/usr/share/info")
INFO_NODE = re.compile(r"File: \S+, +Node: ")  # an info manual's node header: navigation, not text
MANUAL_CHARS = 4_000_000  # training text at most: every manual on a stock Debian system fits
OPEN_FAMILIES = ("letter", "receipt", "columns", "table", "form")
LANGUAGE_ORDER = 5
MIN_LINE = 12  # characters: shorter lines (headings, rules, lone names) teach little
PLAIN = re.compile(f"[{re.escape(ALPHABET)}]+")  # the recognizer's alphabet: lines it could read whole


@dataclass(frozen=True)
class PriorConfig:
    """Everything that decides the prior; recorded in the manifest."""

    seed: int = 0
    family_pages: int = 150  # pages per open family whose strings join the general text
    general_chars: int = 1_500_000  # general text at most (bounds the model's size: ~1 MB gzipped)
    order: int = LANGUAGE_ORDER


def normalized(text: str) -> str:
    return " ".join(text.split())


def held_out_text() -> str:
    """The held-out licence, whitespace normalized: no line of it is fitted or trained on, wherever it is quoted."""
    return normalized(HELD_OUT.read_text()) if HELD_OUT.is_file() else ""


def licence_files(licenses: Path = LICENSES) -> list[Path]:
    """The common licences but the held-out one, in name order."""
    return sorted(p for p in licenses.glob("*") if p.is_file() and p.name != HELD_OUT.name)


def general_files(docs: Path = DOCS, licenses: Path = LICENSES) -> list[Path]:
    """The common licences but the held-out one, then every package's copyright file but the evaluation
    packages', in name order."""
    packages = (p for p in docs.glob("*") if not HELD_OUT_PACKAGES.search(p.name))
    copyrights = sorted(p / "copyright" for p in packages if (p / "copyright").is_file())
    return licence_files(licenses) + copyrights


def general_lines(files: Iterable[Path], held_out: str, limit: int) -> list[str]:
    """The files' distinct lines (whitespace normalized) written in the recognizer's alphabet, none found in
    `held_out`, until `limit` characters."""
    seen: dict[str, None] = {}
    total = 0
    for path in files:
        try:
            raw_bytes = path.read_bytes()
            text = (gzip.decompress(raw_bytes) if path.suffix == ".gz" else raw_bytes).decode("utf-8", "replace")
        except (OSError, gzip.BadGzipFile, EOFError):
            continue
        for raw in text.splitlines():
            line = normalized(raw.strip(" .*#-=|"))
            if len(line) < MIN_LINE or line in seen or not PLAIN.fullmatch(line) or INFO_NODE.match(line):
                continue
            if line in held_out:
                continue
            seen[line] = None
            total += len(line) + 1
            if total >= limit:
                return list(seen)
    return list(seen)


def manual_files(info: Path = INFO, licenses: Path = LICENSES) -> list[Path]:
    """The common licences but the held-out one, then the GNU info manuals (gzipped) but those of the evaluation
    and calibration packages, in name order."""
    manuals = sorted(p for p in info.glob("*.info*") if p.is_file() and not HELD_OUT_MANUALS.search(p.name))
    return licence_files(licenses) + manuals


@functools.cache
def manual_lines() -> tuple[str, ...]:
    """Real English as manuals write it, line by line, for training pages (`rewrites.prose`): abbreviations,
    contractions, quotes, options, paths and the word frequencies of running text, which the generators' word
    list (every word equally likely) never gives. Held out as the prior's text is."""
    return tuple(general_lines(manual_files(), held_out_text(), MANUAL_CHARS))


def manual_record() -> dict[str, object]:
    """What the training text was on this machine (for the manifest): the manuals' names, its size and digest."""
    lines = manual_lines()
    return {
        "files": [p.name for p in manual_files()],
        "lines": len(lines),
        "characters": sum(len(line) for line in lines),
        "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
    }


def family_lines(seed: int, pages: int) -> list[str]:
    """The strings of `pages` pages of each open family (never an invoice)."""
    seeds = derive_seeds(seed * 1_000 + 23, pages)
    return [text.text for family in OPEN_FAMILIES for s in seeds for text in page_layout(s, family).texts]


def prior_words() -> list[str]:
    """English words (some accented) and Faker's names and places, letters only, two letters or more."""
    words = {part for word in (*english_words(), *accented_vocabulary()) for part in WORD.findall(word)}
    words |= faker_words()
    return sorted(word for word in words if len(word) >= 2)


def fit_prior(config: PriorConfig) -> tuple[Lexicon, CharNgram, dict[str, object]]:
    """The lexicon and the character model, and what they were fitted on (for the manifest)."""
    general = general_lines(general_files(), held_out_text(), config.general_chars)
    families = family_lines(config.seed, config.family_pages)
    texts = general + families
    language = CharNgram.fit(texts, config.order)
    lexicon = Lexicon(prior_words())
    corpus = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    fit = {
        "general_lines": len(general),
        "family_lines": len(families),
        "characters": sum(len(t) for t in texts),
        "corpus_sha256": corpus,
        "lexicon_words": len(lexicon.words),
    }
    return lexicon, language, fit


def install(weights_dir: Path, lexicon: Lexicon, language: CharNgram, record: dict[str, object]) -> dict[str, object]:
    """Write the prior into a weights folder and record it (`record`: its command, config and fit) in the
    manifest, with the files' new sha256 and sizes; the networks and the calibration are left as they are."""
    from ocr_subnet.model.pipeline import LANGUAGE_FILE, LEXICON_FILE, MANIFEST  # the pipeline imports torch

    path = weights_dir / MANIFEST
    manifest = json.loads(path.read_text())
    lexicon.save(weights_dir / LEXICON_FILE)
    language.save(weights_dir / LANGUAGE_FILE)
    for name in (LEXICON_FILE, LANGUAGE_FILE):
        data = (weights_dir / name).read_bytes()
        manifest["sha256"][name] = hashlib.sha256(data).hexdigest()
        manifest["bytes"][name] = len(data)
    manifest["prior"] = record
    manifest.get("calibration_fit", {}).pop("recurring_lines", None)  # the closed prior's; gone with it
    manifest.get("calibration_fit", {}).pop("lexicon_words", None)  # now in the record's fit
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def prior_record(command: str, config: PriorConfig, fit: dict[str, object]) -> dict[str, object]:
    return {"command": command, "config": asdict(config), "fit": fit}
