#!/usr/bin/env bash
# Project rule: every identifier that reaches SQL is quoted exactly as libpq's
# PQescapeIdentifier would. tests/support/ident_check.c compares ecplan_sql_ident()
# (and ecplan_sql_literal()) with libpq for hostile names and round-trips each one
# through the server; this test runs it in a fresh database.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
it_setup

# ECPLAN_IDENT_CHECK overrides the location (e.g. to run against another build).
checker=${ECPLAN_IDENT_CHECK:-${ECPLAN_BUILD_DIR:?ECPLAN_BUILD_DIR must be set (ctest sets it)}/tests/ident_check}
[[ -x "$checker" ]] || fail "ident_check not built at $checker"

assert_exit 0 "$checker"
cat "$OUT"
out=$(cat "$OUT")
assert_contains "$out" "0 failed" "ident_check reports no failures"
assert_not_contains "$out" "FAIL" "no case failed"
# Guard against a checker that silently checks nothing.
assert_contains "$out" 'ok   ident      injection        ["x;DROP TABLE y"]  (created, found by name)' \
	"the injection case ran and round-tripped"
assert_contains "$out" 'ok   ident      embedded quotes  ["Weird ""Table"""]' "the embedded-quotes case ran"
assert_contains "$out" "ok   canary" "the canary table survived"
assert_eq 1 "$(q "select count(*) from pg_class where relname = 'y'")" "canary table y exists"
pass
