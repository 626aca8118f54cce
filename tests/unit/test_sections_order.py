"""The reading order of a page's sections: columns of prose one after another, tables and forms row by row."""

from __future__ import annotations

import random

from ocr_subnet.sections import Font, Section, blocks, lines, plain_text

LINE = 14.0  # pixels from one line's top to the next
HEIGHT = 11.0


def section(text: str, x0: float, top: float, x1: float) -> Section:
    return Section(text=text, position=(x0, top, x1, top + HEIGHT), font=Font(family="Times-Roman", size=10.0))


def column(name: str, x0: float, x1: float, first: int, count: int) -> list[Section]:
    return [section(f"{name} line {i} has several words", x0, (first + i) * LINE, x1) for i in range(count)]


def test_two_columns_of_prose_are_read_one_after_the_other_though_their_lines_align() -> None:
    left, right = column("left", 0, 300, 0, 6), column("right", 320, 620, 0, 6)
    shuffled = [*left, *right]
    random.Random(0).shuffle(shuffled)
    assert [s.text for line in lines(shuffled) for s in line] == [s.text for s in [*left, *right]]


def test_a_title_across_both_columns_comes_first_and_a_footer_last() -> None:
    title = section("A title across the whole page", 100, 0, 520)
    left, right = column("left", 0, 300, 2, 5), column("right", 320, 620, 2, 5)
    footer = section("a footer that spans the page as well", 0, 9 * LINE, 620)
    text = plain_text([footer, *right, *left, title])
    assert text.split("\n") == [title.text, *(s.text for s in left), *(s.text for s in right), footer.text]


def test_three_columns_are_read_left_to_right() -> None:
    parts = [column(name, 320 * i, 320 * i + 300, 0, 4) for i, name in enumerate(("first", "second", "third"))]
    read = [s.text for block in blocks([s for part in reversed(parts) for s in part]) for s in block]
    assert read == [s.text for part in parts for s in part]


def test_a_table_of_short_cells_is_read_row_by_row() -> None:
    rows = [("Description", "Qty", "Cost"), ("Widget repair", "2", "$30.00"), ("Bolts", "10", "$4.50")]
    rows += [("Cable ties", "100", "$9.99"), ("Labour per hour", "3", "$120.00")]
    cells = [
        section(cell, x, i * LINE, x + 40 + 6 * len(cell))
        for i, row in enumerate(rows)
        for cell, x in zip(row, (0, 300, 400), strict=True)
    ]
    assert plain_text(cells[::-1]).split("\n") == [" ".join(row) for row in rows]


def test_narrow_columns_of_two_or_three_words_a_line_are_columns_too() -> None:
    left = [section(f"narrow {i} column", 0, i * LINE, 90 + 10 * (i % 2)) for i in range(5)]
    right = [section(f"other {i} column", 130, i * LINE, 220 + 10 * (i % 2)) for i in range(5)]
    assert plain_text([*right, *left]).split("\n") == [s.text for s in [*left, *right]]


def test_a_table_whose_first_column_reads_like_prose_is_still_read_row_by_row() -> None:
    rows = [(f"item {i} has a long description", f"{i}", f"${i}.00") for i in range(6)]
    cells = [
        section(cell, x, i * LINE, x + (250 if x == 0 else 30))
        for i, row in enumerate(rows)
        for cell, x in zip(row, (0, 300, 400), strict=True)
    ]
    assert plain_text(cells).split("\n") == [" ".join(row) for row in rows]


def test_a_short_aside_beside_prose_is_no_column() -> None:
    prose = column("body", 0, 300, 0, 2)  # two lines are not a column
    aside = [section("Note: see below for all the details", 320, i * LINE, 620) for i in range(2)]
    assert [len(line) for line in lines([*prose, *aside])] == [2, 2]


def test_every_section_is_read_once_whatever_the_layout() -> None:
    rng = random.Random(3)
    for _ in range(50):
        sections = []
        for i in range(rng.randrange(0, 40)):
            x0, top = rng.uniform(0, 600), rng.uniform(0, 800)
            words = " ".join("word" for _ in range(rng.randrange(1, 8)))
            sections.append(
                Section(
                    text=f"{i} {words}",
                    position=(x0, top, x0 + rng.uniform(5, 300), top + rng.uniform(5, 40)),
                    font=Font(family="Helvetica", size=9.0),
                )
            )
        read = [s.text for line in lines(sections) for s in line]
        assert sorted(read) == sorted(s.text for s in sections)


def test_a_block_below_a_letterhead_is_read_after_it_though_they_stand_side_by_side() -> None:
    letterhead = [section(text, 290, 280 + i * 10, 360) for i, text in enumerate(("Hall LLC", "584 Brandon Well"))]
    letterhead += [section(text, 270, 300 + i * 10, 355) for i, text in enumerate(("Pierceport, UT 34175", "838 758"))]
    client = ["Reference: #59202", "Client:", "Charles Bell", "5572 Tiffany Plains Apt. 427", "Matthewberg, WA 03877"]
    block = [section(text, 70, 327 + i * 11, 70 + 4.5 * len(text)) for i, text in enumerate(client)]
    date = section("Invoice Date: Nov 23, 2022", 440, 327, 540)
    read = plain_text([date, *block, *letterhead]).split("\n")
    assert read[:4] == [s.text for s in letterhead]
    assert read[4] == f"{client[0]} {date.text}" and read[5:] == client[1:]


def test_two_columns_whose_lines_do_not_align_are_read_one_after_the_other() -> None:
    left = [section(f"left line {i} has several words", 0, i * 14.0, 300) for i in range(6)]
    right = [section(f"right line {i} has several words", 320, 5 + i * 17.0, 620) for i in range(5)]
    assert plain_text([*right, *left]).split("\n") == [s.text for s in [*left, *right]]


def test_a_column_that_starts_lower_leaves_the_gutter_open_beside_the_other_ones_first_line() -> None:
    title = section("A title across the whole page", 100, 0, 520)
    left = [section(f"left line {i} has several words", 0, (2 + i) * LINE, 300) for i in range(5)]
    right = [section(f"right line {i} has several words", 320, (3 + i) * LINE, 620) for i in range(4)]
    read = plain_text([*right, title, *left]).split("\n")
    assert read == [title.text, *(s.text for s in left), *(s.text for s in right)]
