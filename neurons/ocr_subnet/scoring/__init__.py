"""Scoring miners' answers: `reward.score` (what the validator pays), `tutorial.tutorial_reward`
(the reference's gameable formula, for comparison), CER, and the gaming answers tests use.

Imports nothing itself: `ocr-subnet --help` loads this package for its CLI, and scipy and
rapidfuzz load only with the modules that need them.
"""
