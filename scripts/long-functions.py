#!/usr/bin/env python3
"""Lists functions longer than a limit (default 80 lines) in C++ files.

A rough reader, not a parser: a function is a definition that starts at the
beginning of a line (Google style puts them there) and ends at the first
line that is a lone '}' at the same indentation. Usage:
  scripts/long-functions.py [--max N] FILE...
Exits 1 if any function is longer than the limit.
"""
import re
import sys


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if (re.match(r"^[A-Za-z_]", line) and "(" in line and not line.rstrip().endswith(";")
                and not re.match(r"^(namespace|struct|class|enum|union|extern|template|using|#)\b", line)):
            # The signature runs to the line that opens the body.
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith("{") and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith("{"):
                k = j + 1
                while k < len(lines) and not (lines[k] == "}" or lines[k].startswith("}  //") or lines[k] == "};"):
                    k += 1
                name = line.split("(")[0].split()[-1] if line.split("(")[0].split() else line
                yield name, i + 1, k - i + 1
                i = k
        i += 1


def main(argv):
    limit = 80
    if argv and argv[0] == "--max":
        limit, argv = int(argv[1]), argv[2:]
    bad = 0
    for path in argv:
        for name, line, length in functions(path):
            if length > limit:
                print(f"{path}:{line}: {name} is {length} lines (limit {limit})")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
