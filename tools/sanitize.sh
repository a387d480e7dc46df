#!/usr/bin/env bash
# Build the compiled core with AddressSanitizer + UndefinedBehaviorSanitizer
# (FASTGRAD_SANITIZE=1: -fsanitize=address,undefined, -O1, no target_clones) in
# a temporary copy of the repository, and run the test suite against it.
#
#   tools/sanitize.sh                 # whole suite
#   tools/sanitize.sh tests/test_hostile.py -k zero_stride   # pytest arguments
#
# The working tree and its in-place build are not touched.  Any ASan or UBSan
# report fails the run (halt_on_error), and the log is grepped for reports that
# a test might have swallowed.  LeakSanitizer is off: CPython itself does not
# free everything at exit; tests/test_leaks.py measures leaks instead.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastgrad-sanitize.XXXXXX")"
trap 'rm -rf "$work"' EXIT
py="${PYTHON:-python}"

echo "== copy of $repo (tracked and untracked files, no build products) in $work"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) \
    | (cd "$repo" && xargs -0 cp --parents -t "$work")

echo "== build with FASTGRAD_SANITIZE=1"
(cd "$work" && FASTGRAD_SANITIZE=1 "$py" setup.py build_ext --inplace -q 2>&1 \
    | grep -v -e "Wpsabi" -e "^ *[0-9]* | " -e "^ *| *\^" -e "In function" -e "In file included" || true)
so="$(ls "$work"/fastgrad/_native*.so)"
if ! nm -D "$so" | grep -q __asan_; then
    echo "the extension is not instrumented: $so" >&2
    exit 1
fi

libasan="$(gcc -print-file-name=libasan.so)"
# the tests must import the instrumented build of the copy, nothing else
(cd "$work" && PYTHONPATH="$work" LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 \
    "$py" -c "import fastgrad._native as n, sys; print(n.__file__); sys.exit(n.__file__ != '$so')")
libubsan="$(gcc -print-file-name=libubsan.so)"
echo "== pytest under $libasan"
log="$work/sanitize.log"
# pytest runs with -s: with fd 2 captured, a report that halts the run would be lost;
# the reports go to files too (log_path), collected below
reports_dir="$work/reports"
mkdir -p "$reports_dir"
set +e
(cd "$work" && env PYTHONPATH="$work" \
    LD_PRELOAD="$libasan $libubsan" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:exitcode=86:allocator_may_return_null=1:log_path=$reports_dir/asan" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$reports_dir/ubsan" \
    "$py" -m pytest -q -s -p no:cacheprovider -rfE "${@:-tests}" 2>&1) | tee "$log"
status=${PIPESTATUS[0]}
set -e
for f in "$reports_dir"/*; do
    [ -e "$f" ] || continue
    echo "== sanitizer report $f"
    cat "$f"
    cat "$f" >> "$log"
done
reports=$(grep -c -E "ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer" "$log" || true)
echo "== pytest exit status $status; sanitizer reports in the log: $reports"
if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
    exit 1
fi
echo "== sanitizer run clean"
