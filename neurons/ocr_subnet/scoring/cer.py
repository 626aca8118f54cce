"""Character error rate of a whole page, independent of how an answer splits it into sections.

The reward judges sections; CER judges reading alone, so engines (tesseract, the Triton model)
can be compared with the usual OCR figure even when they group words differently.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from ocr_subnet.sections import Section


def reading_order(sections: Sequence[Section]) -> list[list[Section]]:
    """Sections grouped into lines (top to bottom), each line ordered left to right.

    A section joins the current line when its vertical centre lies within half the line's
    first box height, which tolerates the small rotation challenges apply.
    """
    lines: list[list[Section]] = []
    for section in sorted(sections, key=lambda s: (s.position[1] + s.position[3]) / 2):
        _, y0, _, y1 = section.position
        if lines:
            first = lines[-1][0].position
            if abs((y0 + y1) / 2 - (first[1] + first[3]) / 2) <= (first[3] - first[1]) / 2:
                lines[-1].append(section)
                continue
        lines.append([section])
    return [sorted(line, key=lambda s: s.position[0]) for line in lines]


def page_text(sections: Sequence[Section]) -> str:
    """The page as text: sections of a line joined by spaces, lines by newlines."""
    return "\n".join(" ".join(s.text for s in line) for line in reading_order(sections))


def character_error_rate(labels: Sequence[Section], predictions: Sequence[Section]) -> float:
    """Edit distance between the pages' texts over the labels' length (can exceed 1)."""
    reference = page_text(labels)
    hypothesis = page_text(predictions)
    if not reference:
        return float(bool(hypothesis))
    return Levenshtein.distance(reference, hypothesis) / len(reference)
