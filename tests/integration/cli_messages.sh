#!/usr/bin/env bash
# Messages for people: "did you mean" for commands, flags, plan keys and
# webhook events; `help --help`; an unknown event lists the valid ones.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
it_setup
P=$src/plans/users-email-lower.json

# Commands.
assert_exit 2 ecplan advnace "$P"
assert_contains "$(cat "$ERR")" 'unknown command "advnace"; did you mean "advance"?' "command typo"
assert_exit 2 ecplan stauts
assert_contains "$(cat "$ERR")" 'did you mean "status"?' "swapped letters"
assert_exit 2 ecplan deploy
assert_contains "$(cat "$ERR")" 'unknown command "deploy"' "unknown command named"
assert_not_contains "$(cat "$ERR")" "did you mean" "no far-fetched suggestion"
assert_exit 2 ecplan help stauts
assert_contains "$(cat "$ERR")" 'did you mean "status"?' "help of a mistyped command"

# help --help and help help.
assert_exit 0 ecplan help --help
assert_contains "$(cat "$OUT")" "usage: ecplan help [COMMAND]" "help --help prints help's own usage"
assert_contains "$(cat "$OUT")" "Without COMMAND" "help --help explains itself"
assert_exit 0 ecplan help help
assert_contains "$(cat "$OUT")" "usage: ecplan help [COMMAND]" "help help"

# Flags.
assert_exit 2 ecplan status --jsno
assert_contains "$(cat "$ERR")" 'unknown option "--jsno"; did you mean "--json"?' "flag typo"
assert_exit 2 ecplan advance "$P" --quite
assert_contains "$(cat "$ERR")" 'did you mean "--quiet"?' "advance flag typo"
assert_exit 2 ecplan wait some-plan --untill switch
assert_contains "$(cat "$ERR")" 'did you mean "--until"?' "wait flag typo"
assert_exit 2 ecplan advance "$P" --to
assert_contains "$(cat "$ERR")" 'option "--to" needs a value' "a missing value is named"
assert_exit 2 ecplan advance "$P" --zzz
assert_contains "$(cat "$ERR")" 'unknown option "--zzz"' "unknown flag"
assert_not_contains "$(cat "$ERR")" "did you mean" "no suggestion for --zzz"

# Phase and state names.
assert_exit 2 ecplan advance "$P" --to swtich
assert_contains "$(cat "$ERR")" 'unknown phase "swtich"; did you mean "switch"?' "--to typo"
assert_exit 2 ecplan rollback "$P" --to synched
assert_contains "$(cat "$ERR")" 'did you mean "synced"?' "rollback --to typo"
assert_exit 2 ecplan wait some-plan --until backfiled
assert_contains "$(cat "$ERR")" 'did you mean "backfilled"?' "wait --until typo"

# Plan keys.
bad=$IT_TMP/bad.json
python3 - "$P" "$bad" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["change"]["new_colum"] = p["change"].pop("new_column")
p["backfil"] = p.pop("backfill", {"batch_size": 10})
json.dump(p, open(sys.argv[2], "w"), indent=2)
PY
assert_exit 2 ecplan validate "$bad"
assert_contains "$(cat "$ERR")" '$.change.new_colum: unknown key "new_colum"' "the unknown key"
assert_contains "$(cat "$ERR")" 'did you mean "new_column"?' "key suggestion"
assert_contains "$(cat "$ERR")" 'did you mean "backfill"?' "top-level key suggestion"

# Webhook events: no database needed.
assert_exit 2 env PGHOST=/nonexistent PGPORT=1 "$ECPLAN_BIN" webhook test "$P" --event bogus
assert_contains "$(cat "$ERR")" 'unknown event "bogus"' "the bad event is named"
assert_contains "$(cat "$ERR")" "valid events: expand.before, expand.after" "valid events listed"
assert_contains "$(cat "$ERR")" "rollback.before, rollback.after, failed" "all of them"
assert_exit 2 env PGHOST=/nonexistent PGPORT=1 "$ECPLAN_BIN" webhook test "$P" --event swtich.after
assert_contains "$(cat "$ERR")" 'did you mean "switch.after"?' "event suggestion"
pass
