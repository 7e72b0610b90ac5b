#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each), growing
# fuzz/corpus/<target>/. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). A crash stops with the input saved under
# fuzz/artifacts/<target>/; fix it, then add the input to the corpus so
# tests/fuzz_corpus.rs replays it on stable forever after.
#
#     fuzz/run.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
for target in decode open engine engine_sealed; do
    echo "== $target: $seconds s"
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1
done
echo "== minimizing the corpus"
for target in decode open engine engine_sealed; do
    cargo +nightly fuzz cmin "$target" "fuzz/corpus/$target"
done
