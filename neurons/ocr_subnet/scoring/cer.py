"""Character error rate of a whole page, independent of how an answer splits it into sections.

The reward judges sections; CER judges reading alone, so engines (tesseract, the Triton model)
can be compared with the usual OCR figure even when they group words differently. The answer is
laid out in the labels' lines: grouping each text by its own boxes let a pixel of box height
decide whether two staggered strings share a line, and a string moved to the neighbouring line
counted twice its length (a page read with 2 wrong characters scored 10% CER).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from ocr_subnet.scoring.matrices import iou
from ocr_subnet.sections import Section, lines_text


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


def in_label_lines(predictions: Sequence[Section], lines: Sequence[Sequence[Section]]) -> list[list[Section]]:
    """The predictions grouped by the labels' `lines`: each joins the line of the label it overlaps most, left to
    right; one that overlaps no label makes a line of its own at its height."""
    labels = [label for line in lines for label in line]
    line_of = [i for i, line in enumerate(lines) for _ in line]
    overlap = iou(labels, predictions) if labels and predictions else np.zeros((len(labels), len(predictions)))
    heights = [min((s.position[1] + s.position[3]) / 2 for s in line) for line in lines]
    grouped: dict[tuple[float, int], list[Section]] = {}
    for j, prediction in enumerate(predictions):
        if labels and overlap[:, j].max() > 0:
            line = line_of[int(overlap[:, j].argmax())]
            key = (heights[line], line)
        else:
            key = ((prediction.position[1] + prediction.position[3]) / 2, len(lines) + j)
        grouped.setdefault(key, []).append(prediction)
    return [sorted(grouped[key], key=lambda s: s.position[0]) for key in sorted(grouped)]


def character_error_rate(labels: Sequence[Section], predictions: Sequence[Section]) -> float:
    """Edit distance between the pages' texts, both in the labels' lines, over the labels' length (can exceed 1)."""
    lines = reading_order(labels)
    reference = lines_text(lines)
    hypothesis = lines_text(in_label_lines(predictions, lines))
    if not reference:
        return float(bool(hypothesis))
    return Levenshtein.distance(reference, hypothesis) / len(reference)
