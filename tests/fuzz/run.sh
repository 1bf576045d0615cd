#!/usr/bin/env bash
# Builds fuzz_plan (clang, libFuzzer, ASan + UBSan) and runs it for a bounded time.
# Usage: bash tests/fuzz/run.sh [SECONDS] [BUILD-DIR] [-- extra libFuzzer flags]
#   SECONDS    how long to fuzz (default 60)
#   BUILD-DIR  default build-fuzz (configured here with CC=clang when missing)
# Exit status: 0 when the run ended without a crash, leak or sanitizer report;
# non-zero otherwise (the reproducer is left as BUILD-DIR/fuzz/crash-* etc.).
# The corpus grows in BUILD-DIR/fuzz/corpus across runs; the seeds are rebuilt
# from the repository each time (tests/fuzz/seed_corpus.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
secs=${1:-60}
bdir=${2:-$root/build-fuzz}
shift $(($# < 2 ? $# : 2))
[[ "${1:-}" == -- ]] && shift
cc=${CC:-}
if [[ -z "$cc" ]]; then
	for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
		command -v "$c" >/dev/null && { cc=$c; break; }
	done
fi
[[ -n "$cc" ]] || { echo "run.sh: clang not found (apt-get install clang)" >&2; exit 77; }
if [[ ! -f "$bdir/CMakeCache.txt" ]]; then
	CC=$cc cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DECPLAN_FUZZ=ON -DECPLAN_SANITIZE=ON -DECPLAN_TESTS=OFF >/dev/null
fi
cmake --build "$bdir" -j "$(nproc)" --target fuzz_plan >/dev/null
work=$bdir/fuzz
mkdir -p "$work/corpus"
bash "$root/tests/fuzz/seed_corpus.sh" "$work"
cd "$work"
# detect_leaks: LeakSanitizer on every input; halt_on_error: the first report fails the run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bdir/tests/fuzz/fuzz_plan" -max_total_time="$secs" -dict=plan.dict -max_len=8192 -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 "$@" corpus seed
