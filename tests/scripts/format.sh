#!/bin/sh
# format.sh: every C file of the tree is as .clang-format says (clang-format 14, Debian's).
# Prints the files that differ and how to fix them; exits 1 when one does.
#   tests/scripts/format.sh [ROOT]
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
command -v clang-format >/dev/null || { echo "format: clang-format is missing (scripts/setup.sh installs it)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files '*.c' '*.h')
else
  files=$(find . -path ./node_modules -prune -o -path './build*' -prune -o \( -name '*.c' -o -name '*.h' \) -print)
fi
bad=0
n=0
for f in $files; do
  n=$((n + 1))
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format: $f differs from .clang-format"
    bad=$((bad + 1))
  fi
done
if [ "$bad" -gt 0 ]; then
  echo "format: $bad of $n C files differ; fix with: clang-format -i FILE" >&2
  exit 1
fi
echo "format: all $n C files as .clang-format says"
