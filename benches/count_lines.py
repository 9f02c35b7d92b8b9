"""Counts the lines of code of the FileProcessingTask with servicetask and by hand.

Usage: python3 benches/count_lines.py   (from the repository root)
A line counts when it is not blank and not a `//` comment (doc comments included in that).
The servicetask version is examples/src/processing.rs without its tests; the hand-written one is
the marked region of examples/examples/file_processing_by_hand.rs.
"""


def count(path, start, end):
    lines = open(path).read().splitlines()
    i = next(k for k, l in enumerate(lines) if start in l)
    j = next(k for k, l in enumerate(lines) if end in l)
    return sum(1 for l in lines[i + 1:j] if l.strip() and not l.strip().startswith("//"))


print("servicetask:", count("examples/src/processing.rs", "//! `file_processing`", "#[cfg(test)]"))
print("by hand:", count("examples/examples/file_processing_by_hand.rs", "begin counted region", "end counted region"))
