#!/usr/bin/env bash
# Builds the seed corpus and a dictionary for fuzz_plan from the files already
# in the repository (nothing is duplicated in git):
#   plans/*.json                      valid plans (and the format's JSON Schema)
#   tests/cases/invalid/*/plan.json   one invalid plan per error class
# Usage: bash tests/fuzz/seed_corpus.sh OUTDIR
# Writes OUTDIR/seed/<name>.json (the corpus) and OUTDIR/plan.dict (libFuzzer
# dictionary: every JSON key, string value and keyword found in those files).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
out=${1:?usage: seed_corpus.sh OUTDIR}
mkdir -p "$out/seed"
rm -f "$out/seed/"*.json
n=0
for f in "$root"/plans/*.json; do
	cp "$f" "$out/seed/plans-$(basename "$f")"
	n=$((n + 1))
done
for f in "$root"/tests/cases/invalid/*/plan.json; do
	cp "$f" "$out/seed/invalid-$(basename "$(dirname "$f")").json"
	n=$((n + 1))
done
python3 - "$out/plan.dict" "$out/seed" <<'PY'
import json, os, sys
out, seed = sys.argv[1], sys.argv[2]
tokens = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            tokens.add(json.dumps(k))
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str) and len(v) <= 40:
        tokens.add(json.dumps(v))
for name in sorted(os.listdir(seed)):
    try:
        walk(json.load(open(os.path.join(seed, name), encoding="utf-8")))
    except Exception:
        pass  # invalid JSON is part of the corpus, not of the dictionary
tokens.update(['"ecplan/v1"', "true", "false", "null", "{", "}", "[", "]", ":", ",", '"\\u0000"', '"${env.', '"${plan.name}"', "1e999", "-0", "9223372036854775808"])
with open(out, "w") as f:
    for i, t in enumerate(sorted(tokens)):
        esc = t.replace("\\", "\\\\").replace('"', '\\"')
        f.write(f'kw{i}="{esc}"\n')
PY
echo "seed_corpus.sh: $n seed files in $out/seed, dictionary $out/plan.dict ($(wc -l <"$out/plan.dict") entries)" >&2
