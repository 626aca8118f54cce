"""Rewrites of a training page's strings into what real documents print and no generator draws.

The validator's generators write plain ASCII in plain words, spaced by the face's own space, every word of their
list as likely as any other. Real text is mostly short common words, abbreviations ("i.e.,"), contractions,
quotes and lower-case line starts (`prose`, from real lines). Manuals are full
of code identifiers (`codify`), of command lines (`command_lines`) and of source code (`source_code`) set in
typewriter type, whose symbols (* % # < > { } = + $ & |) prose never prints; manuals, books,
letters and European invoices set asides in brackets, paths, curly quotes, dashes and hyphens, bullets, accented
letters and signs such as £, € and ° (`typeset`); justified and TeX-set lines stretch and shrink their word spaces
(`respace`). Each rewritten string keeps its place and, shrunk where it grew, its advance, so it meets no neighbour
and every label still matches its pixels. Tables of contents, price lists and forms lead a title with a row of dots
(tight, as DocBook sets them, or spaced, as TeX does) to a page number, a price or a blank (`leaders`): those
strings grow rightward into their line's free room only. Title pages, slides and posters print a word or two far
larger than any body text (`headline`): that string grows in place and the strings it would cover are taken off the
page.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge.fonts import MONOSPACE
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, Text, text
from ocr_subnet.challenge.words import accented_vocabulary, pick, words
from ocr_subnet.model import charset, glyphs
from ocr_subnet.sections import Font

CODE_STRINGS = 0.3  # of a code page's multi-word strings, those rewritten
CODE_JOINS = 0.6  # of their word gaps, those joined by an underscore
COMMAND_STRINGS = 0.4  # of a command page's strings, those given command-line options
MONO_COMMANDS = 0.7  # of those, the ones set in typewriter type, as manuals set commands
SOURCE_STRINGS = 0.4  # of a source-code page's strings, those turned into code
MONO_SOURCE = 0.7  # of those, the ones that become a line of code in typewriter type (the rest quote code inline)
PROSE_STRINGS = 0.6  # of a prose page's multi-word strings, those replaced by real text
CURLED_RUNS = 0.5  # of those runs, the ones set with typographic quotes, as TeX and word processors print them
BULLETED_RUNS = 0.06  # of those runs, the ones that open a bulleted list's item
TYPESET_STRINGS = 0.35  # of a typeset page's strings, those given one typographic feature
MIN_SCALE = 0.75  # a feature that would shrink its string's font below this share of its size is left out
CURLY_APOSTROPHES = 0.8  # typeset pages whose apostrophes are all curly, as word processors set them
RESPACE_STRINGS = 0.5  # of a respaced page's multi-word strings, those set tight or loose
WORD_SPACE_EM = (-0.15, 0.35)  # points added at each space, in font sizes: TeX shrinks and justified lines stretch
MIN_GAP_EM = 0.12  # no gap between words narrower than this share of the font size
LEADER_STRINGS = 0.5  # of a leader page's strings, those that lead to the next thing on their line
LEADER_MIN_EM = 3.0  # a leader is this many font sizes long at least, or not drawn
LEADER_MAX_EM = 16.0  # and at most this long: a line of nothing but dots taught a reader to see dots in prose
LEADER_GAP_EM = 0.6  # a leader's end keeps this far (in font sizes) from the next string or rule on its line
LEADER_MARGIN = 36.0  # points a leader with nothing after it on its line stops short of the page's right edge
HEADLINE_PT = (36.0, 160.0)  # a headline's font size: up to ~8x `scales.LARGE_TEXT` at the canonical ~1 px/pt
HEADLINE_WORDS = 3  # headlines are strings of at most this many words
HEADLINE_MARGIN = 12.0  # points a headline keeps from the page's edges
EN_DASH, EM_DASH, BULLET = "\u2013", "\u2014", "\u2022"
UPPER_LETTERS = "".join(c for c in charset.LATIN1_LETTERS if c.isupper())
LOWER_LETTERS = "".join(c for c in charset.LATIN1_LETTERS if c.islower())


def refit(item: Text, value: str, word_space: float | None = None) -> Text:
    """`value` in `item`'s place and font (and word spacing, unless given), its size shrunk so it takes no more
    than `item`'s advance."""
    spacing = item.word_space if word_space is None else word_space
    new = text(value, item.font, item.x, item.baseline, spacing)
    if new.advance > item.advance:
        spaces = spacing * value.count(" ")
        size = item.font.size * (item.advance - spaces) / (new.advance - spaces)
        new = text(value, Font(family=item.font.family, size=size), item.x, item.baseline, spacing)
    return new


def fitted(item: Text, value: str, word_space: float | None = None) -> Text | None:
    """`value` refitted in `item`'s place, or None where that would shrink it below `MIN_SCALE`."""
    new = refit(item, value, word_space)
    return new if new.font.size >= MIN_SCALE * item.font.size else None


def drawable_by(item: Text, fonts: Mapping[str, str]) -> set[str]:
    """What `item`'s glyph source (`fonts`: base family -> font name) draws, ASCII always."""
    return set(charset.ASCII).union(glyphs.drawable(fonts.get(item.font.family, item.font.family)))


def prose(layout: Layout, lines: Sequence[str], fonts: Mapping[str, str], rng: np.random.Generator) -> Layout:
    """Some multi-word strings replaced by a run of words from a real line of text (`prior.manual_lines`), from
    any word of it, so most start in lower case mid-sentence, about as long as the string; half of them with
    typographic quotes (`curled`), a few opening a bulleted item. Each keeps its place, face and advance
    (`fitted`), losing words that do not fit; a run the glyph source cannot draw is left out (dressed, then plain)."""
    out = []
    for item in layout.texts:
        if not lines or " " not in item.text.strip() or rng.random() >= PROSE_STRINGS:
            out.append(item)
            continue
        words_ = lines[int(rng.integers(len(lines)))].split(" ")
        start = int(rng.integers(len(words_)))
        pieces, length = [words_[start]], len(words_[start])
        for word in words_[start + 1 :]:
            if length >= len(item.text):
                break
            pieces.append(word)
            length += 1 + len(word)
        dressed = curled(" ".join(pieces)).split(" ") if rng.random() < CURLED_RUNS else pieces
        dressed = [BULLET, *dressed] if rng.random() < BULLETED_RUNS else dressed
        drawable = drawable_by(item, fonts)
        pieces = next((list(run) for run in (dressed, pieces) if set("".join(run)) <= drawable), [])
        new = None
        while new is None and set(pieces) - {BULLET}:  # a bullet alone is no run
            new = fitted(item, " ".join(pieces))
            pieces.pop()
        out.append(new or item)
    return replace(layout, texts=tuple(out))


def curled(value: str) -> str:
    """Straight quotes as typesetters print them: a left quote where one opens (at the start, after a space, an
    opening bracket or a dash), a right quote elsewhere, so an apostrophe within a word is a right single quote;
    the grave accent of GNU's old `quote' style opens too. Real PDFs print a curly "you'll"; plain text does not."""
    out = []
    for i, char in enumerate(value):
        opens = i == 0 or value[i - 1] in f" ([{{<{EN_DASH}{EM_DASH}"
        if char == "'":
            out.append("\u2018" if opens else "\u2019")
        elif char == '"':
            out.append("\u201c" if opens else "\u201d")
        else:
            out.append("\u2018" if char == "`" else char)
    return "".join(out)


def codify(layout: Layout, rng: np.random.Generator) -> Layout:
    """Some multi-word strings written like code identifiers (words joined by underscores, half of them lower
    case)."""
    out = []
    for item in layout.texts:
        words_ = item.text.split(" ")
        if len(words_) < 2 or rng.random() >= CODE_STRINGS:
            out.append(item)
            continue
        gaps = ["_" if rng.random() < CODE_JOINS else " " for _ in words_[1:]]
        joined = words_[0] + "".join(gap + word for gap, word in zip(gaps, words_[1:], strict=True))
        out.append(refit(item, joined.lower() if rng.random() < 0.5 else joined))
    return replace(layout, texts=tuple(out))


def typewriter(item: Text) -> Text:
    """`item` in typewriter type (the page's Courier glyph source), bold where it was, at its size."""
    family = "Courier-Bold" if "Bold" in item.font.family else "Courier"
    return replace(item, font=Font(family=family, size=item.font.size))


def option(rng: np.random.Generator) -> str:
    """One command-line argument as manuals print it: a long option (perhaps with a value), a short one, a
    compiler's flag, or the "--" that ends the options."""
    name = "-".join("".join(c for c in w.lower() if c.isalnum()) for w in words(rng, int(rng.integers(1, 4))))
    kind = pick(rng, ("long", "long", "assign", "short", "short", "compiler", "end"))
    if kind == "long":
        return f"--{name}"
    if kind == "assign":
        value = pick(rng, ("yes", "no", str(int(rng.integers(0, 1000))), name.split("-")[0]))
        return f"{pick(rng, ('--', '--', ''))}{name}={value}"
    if kind == "short":
        return "-" + pick(rng, tuple(string.ascii_letters + string.digits))
    if kind == "compiler":
        return "-" + pick(rng, tuple("WOfDIlm")) + pick(rng, (name, f"no-{name}", str(int(rng.integers(0, 4)))))
    return "--"


def commanded(value: str, rng: np.random.Generator) -> str:
    """`value` with options among its words, or replaced by a list of options ("-L --license -V --version")."""
    if rng.random() < 0.3:
        return " ".join(option(rng) for _ in range(int(rng.integers(1, 5))))
    words_ = value.split(" ")
    for _ in range(int(rng.integers(1, 3))):
        words_.insert(int(rng.integers(len(words_) + 1)), option(rng))
    return " ".join(words_)


def command_lines(layout: Layout, rng: np.random.Generator) -> Layout:
    """Some strings given command-line options, most of them set in typewriter type (the page's Courier glyph
    source), in the same place and within the same advance. Thin typewriter hyphens, "--" and "=" are what a
    reader trained on prose drops or reads as dashes."""
    out = []
    for item in layout.texts:
        if not item.text.strip() or rng.random() >= COMMAND_STRINGS:
            out.append(item)
            continue
        face = typewriter(item) if item.font.family not in MONOSPACE and rng.random() < MONO_COMMANDS else item
        value, plain = commanded(item.text, rng).split(" "), set(item.text.split(" "))
        new = fitted(face, " ".join(value))
        while new is None and len(value) > 1:  # typewriter type is wide: the last plain words go first, options last
            kept = [i for i, word in enumerate(value) if word in plain]
            value.pop(kept[-1] if kept else -1)
            new = fitted(face, " ".join(value))
        out.append(new or item)
    return replace(layout, texts=tuple(out))


def identifier(rng: np.random.Generator) -> str:
    """A C identifier: words joined by underscores, lower case, a macro's upper case or a prefixed function's."""
    parts = ["".join(c for c in w.lower() if c.isalnum()) for w in words(rng, int(rng.integers(1, 3)))]
    kind = pick(rng, ("lower", "lower", "macro", "prefixed"))
    if kind == "macro":
        return "_".join(parts).upper()
    if kind == "prefixed":
        return f"{parts[0][:4]}_{'_'.join(parts[1:] or parts)}"
    return "_".join(parts)


def snippet(rng: np.random.Generator) -> str:
    """One piece of source code as manuals print it: a declaration, an assignment, a condition, an include, a
    macro reference, a comment, a directive, markup, an operator between operands."""
    a, b = identifier(rng), identifier(rng)
    n = str(int(rng.integers(0, 1000)))
    kind = pick(
        rng,
        ("include", "pointer", "array", "assign", "compare", "call", "member", "make", "comment", "directive", "tag",
         "operator", "block", "literal"),
    )  # fmt: skip
    if kind == "include":
        header = b.lower()
        return "#include " + pick(rng, (f"<{header}.h>", f'"{header}.h"'))
    if kind == "pointer":
        declared = pick(rng, ("char", "int", "FILE", "void", "const char", "size_t"))
        return f"{declared} *{a}{pick(rng, ('', ';', ',', ')'))}"
    if kind == "array":
        return f"{pick(rng, ('char', 'int', 'unsigned'))} {a}[{pick(rng, (n, b.upper()))}];"
    if kind == "assign":
        op = pick(rng, ("=", "+=", "-=", "|=", "&=", ":=", "?="))
        return f"{a} {op} {pick(rng, (b, n, f'{b} + {n}', f'{b} * {n}'))};"
    if kind == "compare":
        op = pick(rng, ("==", "!=", "<=", ">=", "<", ">", "&&", "||"))
        return f"{pick(rng, ('if (', 'while (', '('))}{a} {op} {pick(rng, (b, n, 'NULL'))}) {{"
    if kind == "call":
        return f"{a}({pick(rng, ('', b, f'&{b}', f'*{b}', f'{b}, {n}'))}){pick(rng, (';', '', ' {'))}"
    if kind == "member":
        return f"{a}{pick(rng, ('->', '.', '::'))}{b}{pick(rng, ('', '++', '--', ' = 0;'))}"
    if kind == "make":
        name, library = b.upper(), a.split("_")[0]
        op = pick(rng, ("=", "+=", ":="))
        return f"{a.upper()} {op} {pick(rng, (f'$({name})', f'${{{name}}}', f'$({name}) -l{library}'))}"
    if kind == "comment":
        body = " ".join(words(rng, int(rng.integers(1, 5)))).lower()
        return pick(rng, (f"/* {body} */", f"// {body}", f"# {body}", f"; {body}", f"-- {body}"))
    if kind == "directive":
        return pick(rng, (f"%{a}", "%{", "%}", "%%", f"%{a} {n}", f"#define {a.upper()} {n}", f"@{a}", f"\\{a}"))
    if kind == "tag":
        return pick(rng, (f"<{a}>", f"</{a}>", f'<{a} {b}="{n}">', f"<{a.upper()}>/{b}", "->", "=>"))
    if kind == "operator":
        return f"{a} {pick(rng, ('+', '-', '*', '/', '%', '^', '|', '&', '<<', '>>', '?', '~'))} {pick(rng, (b, n))}"
    if kind == "block":
        return pick(rng, ("{", "}", "};", "} else {", f"[{a}]", f"{{ {a} }}", f"({a})", f"[{n}]"))
    return pick(rng, (f"'{a[:1]}'", f'"{b}"', f"0x{int(rng.integers(0, 65536)):04x}", f"`{a}`", f"~{a}", f"!{a}"))


def source_code(layout: Layout, rng: np.random.Generator) -> Layout:
    """Some strings turned into source code: most become a line of code set in typewriter type (the page's
    Courier glyph source), the rest keep their face and carry a piece of code among their words, as manuals
    quote code in running text. Each keeps its place and advance (`fitted`), losing pieces that do not fit."""
    out = []
    for item in layout.texts:
        if not item.text.strip() or rng.random() >= SOURCE_STRINGS:
            out.append(item)
            continue
        if rng.random() < MONO_SOURCE and item.font.family not in MONOSPACE:
            face = typewriter(item)
            pieces = [snippet(rng) for _ in range(int(rng.integers(1, 4)))]
        else:
            face, pieces = item, item.text.split(" ")
            pieces.insert(int(rng.integers(len(pieces) + 1)), snippet(rng))
        new = fitted(face, " ".join(pieces))
        while new is None and len(pieces) > 1:
            pieces.pop()
            new = fitted(face, " ".join(pieces))
        out.append(new or item)
    return replace(layout, texts=tuple(out))


def quoted(value: str, rng: np.random.Generator) -> str:
    words_ = value.split(" ")
    start = int(rng.integers(len(words_)))
    end = int(rng.integers(start, len(words_))) + 1
    left, right = pick(rng, ("\u201c\u201d", "\u2018\u2019", "\u00ab\u00bb", '""'))
    return " ".join([*words_[:start], left + " ".join(words_[start:end]) + right, *words_[end:]])


def dashed(value: str, rng: np.random.Generator) -> str:
    """A dash between words, or a hyphen where prints put one: a compound, a line broken inside a word, a
    command-line option, a range. Hyphens come as often as dashes and in the same places (before digits,
    between words), so a short stroke is told from a dash by its length, not by its neighbours."""
    words_ = value.split(" ")
    gaps = [i for i, c in enumerate(value) if c == " "]
    kind = pick(rng, ("dash", "dash", "compound", "broken", "option", "range"))
    if kind == "range":
        first = int(rng.integers(1, 100))
        return f"{value} {first}{pick(rng, (EN_DASH, '-'))}{first + int(rng.integers(1, 50))}"
    if kind == "option":
        flag = pick(rng, ("-", "--")) + (
            words(rng, 1)[0].lower() if rng.random() < 0.6 else pick(rng, tuple("abcLv19"))
        )
        return f"{flag} {value}"
    if kind == "broken" and len(words_[-1]) >= 4:
        last = words_[-1]
        return " ".join([*words_[:-1], last[: int(rng.integers(2, len(last) - 1))] + "-"])
    if not gaps:
        return f"{value}{pick(rng, ('-', EN_DASH))}{words(rng, 1)[0]}"
    i = gaps[int(rng.integers(len(gaps)))]
    joint = "-" if kind != "dash" else pick(rng, (f" {EN_DASH} ", EM_DASH, f" {EM_DASH} ", " - "))
    return value[:i] + joint + value[i + 1 :]


def bulleted(value: str, rng: np.random.Generator) -> str:
    return pick(rng, (f"{BULLET} ", f"{BULLET} ", "\u00b7 ", "\u00a7 ", "\u00b6 ")) + value


def accented(value: str, rng: np.random.Generator) -> str:
    """One word replaced by an accented one: half the time a real one from the word list, else a random word
    with a letter or two drawn from all of Latin-1's (every letter must be seen, Ð and þ too)."""
    words_ = value.split(" ")
    i = int(rng.integers(len(words_)))
    if rng.random() < 0.5:
        word = pick(rng, accented_vocabulary())
    else:
        word = list(words(rng, 1)[0])
        for _ in range(int(rng.integers(1, 3))):
            j = int(rng.integers(len(word)))
            word[j] = pick(rng, tuple(UPPER_LETTERS if word[j].isupper() else LOWER_LETTERS))
        word = "".join(word)
    words_[i] = word.upper() if words_[i].isupper() and len(words_[i]) > 1 else word
    return " ".join(words_)


def signed(value: str, rng: np.random.Generator) -> str:
    """A sign with what it usually stands beside, before or after the string."""
    n, amount = int(rng.integers(1, 100)), f"{rng.uniform(1, 5000):,.2f}"
    sign = pick(
        rng,
        (
            f"{n}\u00b0C",
            f"{n}\u00b0",
            f"\u00a9 {int(rng.integers(1950, 2031))}",
            "\u00ae",
            f"\u00a3{amount}",
            f"\u20ac{amount}",
            f"{amount} \u20ac",
            f"\u00a5{amount}",
            f"{n}\u00a2",
            f"\u00b1{n}",
            f"{n}\u00d7{int(rng.integers(1, 100))}",
            f"{n} \u00f7 {int(rng.integers(1, 10))}",
            f"\u00bf{words(rng, 1)[0]}?",
            f"\u00a1{words(rng, 1)[0]}!",
        ),
    )
    return f"{sign} {value}" if rng.random() < 0.5 else f"{value} {sign}"


def bracketed(value: str, rng: np.random.Generator) -> str:
    """Brackets and slashes where manuals put them: an aside in parentheses or square brackets (often with
    punctuation after it), a plural "(s)", a call, an either/or, a path, an address. A thin bracket beside a
    capital ("(DER)") or a slash between letters is what a reader trained on plain words drops."""
    words_ = value.split(" ")
    kind = pick(rng, ("aside", "aside", "aside", "plural", "call", "either", "path", "address"))
    i = int(rng.integers(len(words_)))
    if kind == "aside":
        end = int(rng.integers(i, len(words_))) + 1
        left, right = pick(rng, ("()", "()", "()", "[]"))
        after = pick(rng, ("", "", ",", ".", ";", ":"))
        return " ".join([*words_[:i], left + " ".join(words_[i:end]) + right + after, *words_[end:]])
    if kind == "plural":
        words_[i] += "(s)"
    elif kind == "call":
        name = "_".join(w.lower() for w in words(rng, int(rng.integers(1, 3))))
        argument = pick(rng, ("", "", words(rng, 1)[0].lower(), str(int(rng.integers(0, 100)))))
        words_[i] = f"{name}({argument})"
    elif kind == "either":
        other = words(rng, 1)[0]
        words_[i] = f"{words_[i]}/{other.upper() if words_[i].isupper() else other.lower()}"
    elif kind == "path":
        parts = [w.lower() for w in words(rng, int(rng.integers(1, 4)))]
        words_[i] = pick(rng, ("/", "~/", "./", "")) + "/".join(parts) + pick(rng, ("", "/", ".c", ".h", ".txt"))
    else:
        host, page = (w.lower() for w in words(rng, 2))
        words_[i] = f"{pick(rng, ('https://', 'http://', 'www.'))}{host}.{pick(rng, ('org', 'com', 'net'))}/{page}"
    return " ".join(words_)


def symbolic(value: str, rng: np.random.Generator) -> str:
    """A word beside or in place of one of `value`'s that prose prints with ASCII's symbols: an e-mail address,
    keys pressed together, a number sign, a plus, an ampersand, a name with figures in it. Code on the training
    pages is mostly set in typewriter type, so a reader trained on it took Times' "+" between words for a hyphen,
    dropped "@" and "#", and split "X11" where a proportional face spaces its figures wide."""
    words_ = value.split(" ")
    i = int(rng.integers(len(words_)))
    a, b = ("".join(c for c in w.lower() if c.isalnum()) or "x" for w in words(rng, 2))
    n = int(rng.integers(1, 100))
    kind = pick(rng, ("mail", "mail", "keys", "keys", "number", "plus", "and", "figures", "figures"))
    if kind == "mail":
        address = f"{a}{pick(rng, ('', '.', '-', '_'))}{b}@{pick(rng, (b, 'gnu', 'lists.' + b))}"
        word = address + pick(rng, (".org", ".com", ".net", ".edu"))
        word = pick(rng, (word, word, f"<{word}>", f"({word})"))
    elif kind == "keys":
        held = [pick(rng, ("Ctrl", "Shift", "Alt", "Meta", "Control", "Cmd")) for _ in range(int(rng.integers(1, 3)))]
        key = pick(rng, (a[:1].upper(), f"F{int(rng.integers(1, 13))}", "Tab", "Lock", "Del", "Enter", "Esc", "+"))
        word = "+".join([*held, key])
    elif kind == "number":
        word = pick(rng, (f"#{n}", f"#{n}", f"#{a}", f"No. #{n}", "#"))
    elif kind == "plus":
        word = pick(rng, ("C++", "g++", f"{n}+", f"+{n}", f"{n} + {int(rng.integers(1, 100))}", f"{a}+{b}"))
    elif kind == "and":
        word = pick(rng, (f"{a.capitalize()} & {b.capitalize()}", f"{a[:1].upper()}&{b[:1].upper()}", "&"))
    else:
        word = pick(
            rng,
            (f"X{n}", f"X11R{n % 7}", f"{a.upper()[:3]}{n}", f"v{n % 10}.{n}", f"IPv{pick(rng, ('4', '6'))}",
             f"UTF-{pick(rng, ('8', '16'))}", f"ISO-8859-{n % 16}", f"{n}{n % 10}{n}", f"{a.capitalize()}{n}"),
        )  # fmt: skip
    if rng.random() < 0.5:
        words_[i] = word
    else:
        words_.insert(i, word)
    return " ".join(words_)


# (feature, weight): brackets and slashes are as common in manuals as the first five features together
FEATURES: tuple[tuple[Callable[[str, np.random.Generator], str], float], ...] = (
    (quoted, 1.0),
    (dashed, 1.0),
    (bulleted, 1.0),
    (accented, 1.0),
    (signed, 1.0),
    (bracketed, 3.0),
    (symbolic, 2.0),
)


def typeset(layout: Layout, fonts: Mapping[str, str], rng: np.random.Generator) -> Layout:
    """Curly apostrophes on most such pages, and some strings given one feature (quotes, a dash, a bullet, an
    accented word, a sign, brackets or a slash, an address, keys or another of ASCII's symbols). A rewrite the
    string's glyph source (`fonts`: base family -> font name) cannot draw is dropped, so no label names a character
    the pixels lack, and so is a feature that would shrink its string much."""
    curly = rng.random() < CURLY_APOSTROPHES
    out = []
    for item in layout.texts:
        plain = item.text.replace("'", "\u2019") if curly else item.text
        value = plain
        if item.text.strip() and rng.random() < TYPESET_STRINGS:
            weights = np.array([weight for _, weight in FEATURES])
            value = FEATURES[int(rng.choice(len(FEATURES), p=weights / weights.sum()))][0](plain, rng)
        drawable = drawable_by(item, fonts)
        kept = (fitted(item, v) for v in (value, plain) if v != item.text and set(v) <= drawable)
        out.append(next((new for new in kept if new is not None), item))
    return replace(layout, texts=tuple(out))


def respace(layout: Layout, fonts: Mapping[str, str], rng: np.random.Generator) -> Layout:
    """Some multi-word strings set with tighter or looser word spaces than the face's own, as justified and TeX-set
    lines are, so words are told apart by a gap's width beside the letters rather than one fixed space. A loose
    string keeps its advance by shrinking (`fitted`), or keeps its spacing where that would shrink it much."""
    out = []
    for item in layout.texts:
        if " " not in item.text.strip() or rng.random() >= RESPACE_STRINGS:
            out.append(item)
            continue
        space_em = stringWidth(" ", fonts.get(item.font.family, item.font.family), 1.0)
        word_space = float(rng.uniform(max(WORD_SPACE_EM[0], MIN_GAP_EM - space_em), WORD_SPACE_EM[1]))
        out.append(fitted(item, item.text, word_space * item.font.size) or item)
    return replace(layout, texts=tuple(out))


def line_stop(item: Text, layout: Layout) -> float:
    """Page x where the next string or rule on `item`'s line begins, short by `LEADER_GAP_EM`, or the margin."""
    _, y0, x1, y1 = item.box
    stops = [PAGE_WIDTH - LEADER_MARGIN]
    boxes = [other.box for other in layout.texts if other is not item]
    boxes += [(min(r.x0, r.x1), min(r.y0, r.y1), max(r.x0, r.x1), max(r.y0, r.y1)) for r in layout.rules]
    stops += [
        bx0 - LEADER_GAP_EM * item.font.size for bx0, by0, bx1, by1 in boxes if bx1 > x1 and by0 <= y1 and y0 <= by1
    ]
    return min(stops)


def led(value: str, font: str, size: float, room: float, rng: np.random.Generator) -> str | None:
    """`value` led by dots across `room` points (in glyph source `font`), `LEADER_MAX_EM` at most, to what ends
    its line: a page number, a roman one, a price or nothing (a form's blank). Dots tight or spaced, with a space
    before and after the row."""
    end = pick(rng, ("page", "page", "page", "roman", "price", "blank"))
    if end == "page":
        after = str(int(rng.integers(1, 400)))
    elif end == "roman":
        after = pick(rng, ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"))
    elif end == "price":
        after = f"{pick(rng, ('$', '', ''))}{rng.uniform(0.5, 900):,.2f}"
    else:
        after = ""
    unit = pick(rng, (".", ". "))
    head = f"{value} "
    tail = f" {after}" if after else ""
    spare = room - stringWidth(head + tail, font, size)
    count = int(min(spare, LEADER_MAX_EM * size) // stringWidth(unit, font, size))
    if count * stringWidth(unit, font, size) < LEADER_MIN_EM * size:
        return None
    return head + (unit * count).rstrip() + tail


def leaders(layout: Layout, fonts: Mapping[str, str], rng: np.random.Generator) -> Layout:
    """Some strings led by a row of dots to the next string or rule on their line, or to near the page's edge
    (`line_stop`): a reader that never saw such a row reads it as dashes. A string with too little room is left."""
    out = []
    for item in layout.texts:
        value = None
        if item.text.strip() and rng.random() < LEADER_STRINGS:
            font = fonts.get(item.font.family, item.font.family)
            overhang_end = item.box[2] - item.advance  # where an advance of 0 would end: x plus an italic's overhang
            value = led(item.text.strip(), font, item.font.size, line_stop(item, layout) - overhang_end, rng)
        out.append(item if value is None else text(value, item.font, item.x, item.baseline))
    return replace(layout, texts=tuple(out))


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], gap: float) -> bool:
    """Whether two boxes (x0, y0, x1, y1) come within `gap` of each other."""
    return a[0] - gap < b[2] and b[0] - gap < a[2] and a[1] - gap < b[3] and b[1] - gap < a[3]


def headline(layout: Layout, rng: np.random.Generator) -> Layout:
    """One short string (`HEADLINE_WORDS` words at most) set at a headline's size (`HEADLINE_PT`), or as large as
    the page's width allows, its first word alone where the string does not fit at the smallest; it keeps its start
    and baseline, moved only to stay on the page. Strings and rules it would touch are taken off the page, so every
    label still matches its pixels. A page with no such string, or none that fits, is returned as it was."""
    short = [i for i, item in enumerate(layout.texts) if 0 < len(item.text.split()) <= HEADLINE_WORDS]
    if not short:
        return layout
    chosen = layout.texts[short[int(rng.integers(len(short)))]]
    drawn = float(rng.uniform(*HEADLINE_PT))
    for value in dict.fromkeys((chosen.text.strip(), chosen.text.split()[0])):
        per_point = text(value, Font(family=chosen.font.family, size=1.0)).advance
        size = min(drawn, (PAGE_WIDTH - 2 * HEADLINE_MARGIN) / max(per_point, 1e-6))
        if size >= HEADLINE_PT[0]:
            break
    else:
        return layout
    x = min(max(chosen.x, HEADLINE_MARGIN), PAGE_WIDTH - HEADLINE_MARGIN - per_point * size)
    big = text(value, Font(family=chosen.font.family, size=size), x, chosen.baseline)
    _, y0, _, y1 = big.box
    shift = min(0.0, PAGE_HEIGHT - HEADLINE_MARGIN - y1) + max(0.0, HEADLINE_MARGIN - y0)
    big = replace(big, baseline=big.baseline + shift)
    gap = 0.15 * size
    texts = tuple(
        big if item is chosen else item
        for item in layout.texts
        if item is chosen or not overlaps(item.box, big.box, gap)
    )
    rules = tuple(
        rule
        for rule in layout.rules
        if not overlaps(
            (min(rule.x0, rule.x1), min(rule.y0, rule.y1), max(rule.x0, rule.x1), max(rule.y0, rule.y1)), big.box, gap
        )
    )
    return replace(layout, texts=texts, rules=rules)
