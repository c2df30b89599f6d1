#!/usr/bin/env bash
# CLI round trip: drives build/bin/cairn against a running gateway the way a
# user and a script would, and checks what they would check (content by
# SHA-256, listings, exit codes, messages).
#
# Environment:
#   CAIRN_BIN_DIR   directory holding the `cairn` binary (required)
#   CAIRN_GATEWAY   gateway of a running cluster, URL or host:port (required)
#   CAIRN_RT_BIG_MB size of the multi-chunk file, MiB (default 5; set it
#                   above the cluster's chunk size to span several chunks)
# Needs bash, coreutils (sha256sum, cmp, dd) and python3 (JSON checks).
# Works under a fresh top-level directory and removes it at the end, so it can
# share a cluster with other tests. Prints TAP-style "ok - ..." lines; exits
# non-zero at the first failure, with the command's output.
set -u -o pipefail

: "${CAIRN_BIN_DIR:?set CAIRN_BIN_DIR to the directory holding cairn}"
: "${CAIRN_GATEWAY:?set CAIRN_GATEWAY to a running gateway}"
export CAIRN_GATEWAY
CAIRN="$(cd "$CAIRN_BIN_DIR" 2>/dev/null && pwd)/cairn"
BIG_MB="${CAIRN_RT_BIG_MB:-5}"
[[ -x "$CAIRN" ]] || { echo "not ok - no executable $CAIRN" >&2; exit 1; }
# The system interpreter when there is one: version-manager shims cost ~0.3 s
# per call, and the checks call it often.
PYTHON="$(command -v /usr/bin/python3 || command -v python3)" \
  || { echo "not ok - python3 is required" >&2; exit 1; }

# Exit codes documented in `cairn --help`.
readonly EXIT_USAGE=2 EXIT_NOT_FOUND=3 EXIT_UNAVAILABLE=4 EXIT_CONFLICT=5

WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-cli-rt.XXXXXX")"
ROOT="/cli-rt-$$-$RANDOM"
OUT="$WORK/out"
ERR="$WORK/err"

cleanup() {
  "$CAIRN" --no-progress rm -r "$ROOT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "not ok - $*"
  echo "--- stdout"; cat "$OUT" 2>/dev/null
  echo "--- stderr"; cat "$ERR" 2>/dev/null
  exit 1
}
ok() { echo "ok - $*"; }

# expect CODE WHAT CMD...: runs CMD with stdout in $OUT and stderr in $ERR
# and requires exit code CODE.
expect() {
  local want="$1" what="$2"
  shift 2
  "$@" >"$OUT" 2>"$ERR"
  local got=$?
  [[ "$got" -eq "$want" ]] || fail "$what: exit code $got, want $want"
  ok "$what"
}

# cairn with progress bars off (they are off anyway when stderr is a file).
cr() { "$CAIRN" --no-progress "$@"; }

# json EXPR: evaluates a Python expression over the JSON document in $OUT,
# bound to `d`, and prints the result.
json() {
  "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$OUT" "$1"
}

# check WHAT CONDITION...: a test(1) condition that must hold.
check() {
  local what="$1"
  shift
  test "$@" || fail "$what (failed: test $*)"
  ok "$what"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- fixtures
printf 'hello, cairn\n' >"$WORK/small.txt"
: >"$WORK/empty"
dd if=/dev/urandom of="$WORK/big.bin" bs=1M count="$BIG_MB" status=none
printf 'unicode name\n' >"$WORK/uni.txt"
BIG_SIZE=$(stat -c %s "$WORK/big.bin")
WEIRD="$ROOT/dir with space/ü ñ+%#?.txt"

# ---------------------------------------------------------------- cluster
expect 0 "cluster prints a table" cr cluster
grep -q "TOTAL" "$OUT" || fail "cluster output has no TOTAL row"
grep -q "under-replicated" "$OUT" || fail "cluster output has no under-replicated line"
expect 0 "cluster --json" cr --json cluster
check "cluster reports alive nodes" "$(json 'd["totals"]["alive"]')" -ge 1
check "cluster lists every node" "$(json 'len(d["nodes"])')" -eq "$(json 'd["totals"]["nodes"]')"

# ---------------------------------------------------------------- put
expect 0 "put small file" cr put "$WORK/small.txt" "$ROOT/docs/small.txt"
grep -q "$ROOT/docs/small.txt" "$OUT" || fail "put summary does not name the path"
expect 0 "put ${BIG_MB} MiB file (piped: no progress bar)" \
  "$CAIRN" --json put "$WORK/big.bin" "$ROOT/big.bin"
check "put --json reports the size" "$(json 'd["size"]')" -eq "$BIG_SIZE"
check "put --json reports the SHA-256" "$(json 'd["sha256"]')" = "$(sha "$WORK/big.bin")"
check "no carriage returns on a piped stderr" "$(tr -cd '\r' <"$ERR" | wc -c)" -eq 0
expect 0 "put empty file" cr put "$WORK/empty" "$ROOT/empty"
expect 0 "put into a directory (trailing /)" cr put "$WORK/uni.txt" "$ROOT/docs/"
expect 0 "put a name needing URL encoding" cr put "$WORK/uni.txt" "$WEIRD"
expect 0 "put onto an existing directory puts into it" cr put "$WORK/empty" "$ROOT/docs"
expect 0 "  and the file landed inside" cr stat "$ROOT/docs/empty"
expect 0 "rm it again" cr rm "$ROOT/docs/empty"
printf 'from stdin' | cr put - "$ROOT/stdin.txt" >"$OUT" 2>"$ERR" \
  || fail "put from stdin"
ok "put from stdin"
expect "$EXIT_CONFLICT" "put --no-clobber onto an existing file" \
  cr put --no-clobber "$WORK/small.txt" "$ROOT/docs/small.txt"

# ---------------------------------------------------------------- get / cat
expect 0 "get big file" cr get "$ROOT/big.bin" "$WORK/big.out"
cmp -s "$WORK/big.bin" "$WORK/big.out" || fail "downloaded big file differs"
ok "downloaded big file is identical"
grep -q "verified" "$OUT" || fail "get summary does not say verified"
mkdir "$WORK/into"
expect 0 "get into a local directory" cr get "$ROOT/docs/small.txt" "$WORK/into"
cmp -s "$WORK/small.txt" "$WORK/into/small.txt" || fail "get into directory"
(cd "$WORK/into" && cr get "$ROOT/docs/uni.txt") >"$OUT" 2>"$ERR" || fail "get to cwd"
cmp -s "$WORK/uni.txt" "$WORK/into/uni.txt" || fail "get to cwd content"
ok "get defaults to the remote name in cwd"
cr get "$ROOT/big.bin" - >"$WORK/big.stdout" 2>"$ERR" || fail "get to stdout"
cmp -s "$WORK/big.bin" "$WORK/big.stdout" || fail "get - content"
ok "get - streams to stdout"
expect 0 "cat" cr cat "$ROOT/docs/small.txt"
cmp -s "$WORK/small.txt" "$OUT" || fail "cat content"
expect 0 "cat stdin upload" cr cat "$ROOT/stdin.txt"
check "stdin upload content" "$(cat "$OUT")" = "from stdin"
expect 0 "cat a URL-encoded name" cr cat "$WEIRD"
cmp -s "$WORK/uni.txt" "$OUT" || fail "cat of the encoded name"
expect 0 "get empty file" cr get "$ROOT/empty" "$WORK/empty.out"
check "empty file stays empty" "$(stat -c %s "$WORK/empty.out")" -eq 0

# ---------------------------------------------------------------- ls / stat
expect 0 "ls" cr ls "$ROOT"
for name in docs/ big.bin empty stdin.txt "dir with space/"; do
  grep -qF "$name" "$OUT" || fail "ls does not show $name"
done
ok "ls shows every entry"
expect 0 "ls --json" cr --json ls "$ROOT"
check "ls --json size of big.bin" \
  "$(json '[e["size"] for e in d["entries"] if e["name"] == "big.bin"][0]')" -eq "$BIG_SIZE"
check "ls --json types" \
  "$(json '{e["name"]: e["type"] for e in d["entries"]}["docs"]')" = "dir"
expect 0 "ls -r" cr --json ls -r "$ROOT"
check "ls -r reaches nested files" \
  "$(json 'any(e["path"] == "'"$ROOT"'/docs/small.txt" for e in d["entries"])')" = "True"
expect 0 "ls of a file shows the file" cr --json ls "$ROOT/big.bin"
check "ls FILE lists just it" "$(json '[e["name"] for e in d["entries"]]')" = "['big.bin']"
expect 0 "stat file" cr stat "$ROOT/big.bin"
grep -q "$(sha "$WORK/big.bin")" "$OUT" || fail "stat does not show the SHA-256"
expect 0 "stat --json" cr --json stat "$ROOT/big.bin"
check "stat size" "$(json 'd["size"]')" -eq "$BIG_SIZE"
check "stat sha256" "$(json 'd["sha256"]')" = "$(sha "$WORK/big.bin")"
check "stat chunks cover the file" "$(json 'sum(c["size"] for c in d["chunks"])')" -eq "$BIG_SIZE"
check "every chunk has a replica" "$(json 'min(len(c["replicas"]) for c in d["chunks"])')" -ge 1
expect 0 "stat a directory" cr --json stat "$ROOT/docs"
check "stat says directory" "$(json 'd["type"]')" = "dir"

# ---------------------------------------------------------------- mkdir / mv
expect 0 "mkdir with parents" cr mkdir "$ROOT/a/b/c"
expect 0 "ls the new directory" cr --json ls "$ROOT/a/b"
check "mkdir created c" "$(json '[e["name"] for e in d["entries"]]')" = "['c']"
expect 0 "mv a file into a directory" cr mv "$ROOT/docs/small.txt" "$ROOT/a/"
expect "$EXIT_NOT_FOUND" "old name is gone after mv" cr cat "$ROOT/docs/small.txt"
expect 0 "new name has the content" cr cat "$ROOT/a/small.txt"
cmp -s "$WORK/small.txt" "$OUT" || fail "content after mv"
expect 0 "mv onto an existing directory moves into it" cr mv "$ROOT/stdin.txt" "$ROOT/a"
expect 0 "  and the file is inside" cr cat "$ROOT/a/stdin.txt"
expect 0 "mv it back" cr mv "$ROOT/a/stdin.txt" "$ROOT/stdin.txt"
expect 0 "mv a directory" cr mv "$ROOT/a" "$ROOT/renamed"
expect 0 "its files moved along" cr cat "$ROOT/renamed/small.txt"

# ---------------------------------------------------------------- du
expect 0 "du" cr du "$ROOT"
grep -q "TOTAL" "$OUT" || fail "du has no TOTAL row"
expect 0 "du --json" cr --json du "$ROOT"
total_bytes=$(( BIG_SIZE + $(stat -c %s "$WORK/small.txt") + 2 * $(stat -c %s "$WORK/uni.txt") + 10 ))
check "du adds up every byte" "$(json 'sum(c["bytes"] for c in d["children"])')" -eq "$total_bytes"
check "du counts every file" "$(json 'sum(c["files"] for c in d["children"])')" -eq 6

# ---------------------------------------------------------------- errors
expect "$EXIT_NOT_FOUND" "get of a missing file" cr get "$ROOT/nope" "$WORK/nope"
[[ ! -e "$WORK/nope" ]] || fail "a failed get left a local file"
ls -A "$WORK" | grep -q '\.cairn-' && fail "a failed get left a temporary file"
grep -q "cairn:" "$ERR" || fail "no message on stderr"
ok "a failed get leaves nothing behind"
expect "$EXIT_NOT_FOUND" "stat of a missing file" cr stat "$ROOT/nope"
expect "$EXIT_NOT_FOUND" "ls of a missing directory" cr ls "$ROOT/nope"
expect "$EXIT_NOT_FOUND" "rm of a missing file" cr rm "$ROOT/nope"
expect "$EXIT_NOT_FOUND" "put of a missing local file" cr put "$WORK/nope" "$ROOT/x"
expect "$EXIT_USAGE" "bad path (..)" cr stat "$ROOT/../etc"
expect "$EXIT_USAGE" "bad path (empty component)" cr ls "$ROOT//docs"
expect "$EXIT_USAGE" "missing argument" cr put "$WORK/small.txt"
expect "$EXIT_USAGE" "unknown subcommand" cr frobnicate
expect "$EXIT_USAGE" "malformed gateway address" cr --gateway "ftp://x" ls /
expect "$EXIT_UNAVAILABLE" "unreachable gateway" cr --gateway 127.0.0.1:1 ls /
grep -q "cannot connect" "$ERR" || fail "unreachable gateway message"
expect "$EXIT_UNAVAILABLE" "unreachable gateway via CAIRN_GATEWAY" \
  env CAIRN_GATEWAY=http://127.0.0.1:1 "$CAIRN" cluster
expect "$EXIT_NOT_FOUND" "--json errors" cr --json stat "$ROOT/nope"
"$PYTHON" -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]=="NOT_FOUND" and e["exit_code"]==3' \
  "$ERR" || fail "--json error on stderr is not the documented JSON"
ok "--json errors are JSON on stderr"

# ---------------------------------------------------------------- rm
expect 0 "rm a file" cr rm "$ROOT/empty"
expect "$EXIT_NOT_FOUND" "removed file is gone" cr stat "$ROOT/empty"
"$CAIRN" --no-progress rm "$ROOT/docs" >"$OUT" 2>"$ERR"
code=$?
check "rm of a non-empty directory without -r fails (exit $code)" "$code" -ne 0
expect 0 "rm -r" cr rm -r "$ROOT"
expect "$EXIT_NOT_FOUND" "tree is gone" cr ls "$ROOT"
expect "$EXIT_USAGE" "rm -r / is refused" cr rm -r /

echo "# all CLI round-trip checks passed"
