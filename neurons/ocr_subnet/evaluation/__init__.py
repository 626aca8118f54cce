"""Evaluation of OCR engines on pages no generator drew (`ocr-subnet eval`); importable without torch or pdfium,
for command-line options."""

import enum


class EngineName(enum.StrEnum):
    TESSERACT = "tesseract"  # the tesseract miner's backend
    MODEL = "model"  # our torch model, in-process
    PPOCR = "ppocr"  # PP-OCR (v4 detector and recognizer) through rapidocr-onnxruntime, in-process


class Variant(enum.StrEnum):
    CLEAN = "clean"
    DEGRADED = "degraded"  # the challenge's level-2 scan marks, blur and JPEG, without geometry


class DocumentSet(enum.StrEnum):
    EVALUATION = "evaluation"  # the held-out manuals whose figures the README reports
    CALIBRATION = "calibration"  # the manuals the corrections are tuned on: for diagnosis, never reported as held out
    CONTENTS = "contents"  # tables of contents (rows of dot leaders): a page kind the evaluation set leaves out
    BREADTH = "breadth"  # text pages of eleven more documents: beyond the six the evaluation set's figures rest on


DPIS = (150, 300)
