#!/usr/bin/env bash
# ecplan's benchmark: prints figures, never asserts on time. Not part of CI.
#
# Usage: bash scripts/bench.sh [options]
#   --rows N              main table size (default 1000000): the impact run and the
#                         largest backfill size
#   --large               also measure the backfill at 10,000,000 rows
#   --sizes "A B ..."     backfill sizes (default "100000 N", plus 10000000 with --large)
#   --results DIR         where report.md, figures.json and the logs go
#                         (default ./results/bench-<timestamp>)
#   --ecplan BIN          the ecplan binary (default $ECPLAN_BIN, else build-bench/ecplan,
#                         built with -DCMAKE_BUILD_TYPE=Release when missing)
#   --server-from-env     use the server of the PG* variables (default: start a throwaway
#                         one with scripts/pg.sh and stop it at the end)
#   --lock-timeout-ms MS  safety.lock_timeout_ms of the bench plan (default 200)
#   --clients N           workload clients of the impact run (default 8)
#   --rate TPS            workload rate of the impact run, 0 = unthrottled (default 1000)
#   --baseline-s S        baseline period of the impact run (default 10)
#   --trigger-rows N      rows of the trigger-overhead tables (default 100000)
#   --trigger-s S         seconds per trigger-overhead run (default 8)
#   --trigger-rounds R    rounds of the trigger-overhead runs, interleaved (default 5)
#   --repeat R            repetitions of each backfill measurement, on fresh tables, the
#                         order (plain first / ecplan first) alternating (default 3; 1 at 10M)
#   --workers N           backfill.workers of the parallel runs (default 2)
#   --no-10m              parallel: skip the 10,000,000-row run (slow)
#   --only LIST           comma-separated subset of: fill,parallel,impact,trigger,status
#
# What it measures, side by side on identical tables (see the report for details):
#  1. backfill rows/s of `ecplan advance --to backfill` vs one plain
#     `UPDATE t SET quantity_big = quantity::bigint`, at every size;
#  2. a pgbench workload (old-code and new-code point updates, inserts and reads)
#     running through a baseline, every ecplan phase, and the naive
#     `ALTER COLUMN ... TYPE` + `RENAME COLUMN` on an identical table;
#  3. write TPS with no trigger, ecplan's sync trigger and the seed article's
#     hand-written sync_name_columns trigger (rename name -> full_name), and the
#     same without/with ecplan's trigger for the type change;
#  4. peak RSS of `ecplan advance` during the backfills and the time of
#     `ecplan status --json`;
#  5. the parallel backfill (backfill.workers): --workers workers vs 1 worker vs
#     one plain UPDATE (and the same UPDATE through the sync trigger) side by
#     side at --rows rows, then --workers workers at 10,000,000 rows, with WAL,
#     commits and the server time of each kind of statement.
# The change benchmarked: orders.quantity integer -> quantity_big bigint NOT NULL
# (plans/orders-quantity-bigint.json without its rate limit and default) on an
# orders table with a bigint identity key, text and timestamptz columns and an
# index on quantity.
set -euo pipefail

me=bench.sh
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
bdir=$root/scripts/bench
die() {
	echo "$me: error: $*" >&2
	exit 2
}
say() { echo "$me: $*" >&2; }

rows=1000000
large=0
sizes=
results=
ecplan_bin=${ECPLAN_BIN:-}
from_env=0
lock_timeout_ms=200
clients=8
rate=1000
baseline_s=10
trigger_rows=100000
trigger_s=8
trigger_rounds=5
repeat=3
only=fill,parallel,impact,trigger,status
par_workers=2
no_10m=0
cmdline="scripts/bench.sh $*"
while (($#)); do
	case "$1" in
	--rows) rows=${2:?}; shift ;;
	--large) large=1 ;;
	--sizes) sizes=${2:?}; shift ;;
	--results) results=${2:?}; shift ;;
	--ecplan) ecplan_bin=${2:?}; shift ;;
	--server-from-env) from_env=1 ;;
	--lock-timeout-ms) lock_timeout_ms=${2:?}; shift ;;
	--clients) clients=${2:?}; shift ;;
	--rate) rate=${2:?}; shift ;;
	--baseline-s) baseline_s=${2:?}; shift ;;
	--trigger-rows) trigger_rows=${2:?}; shift ;;
	--trigger-s) trigger_s=${2:?}; shift ;;
	--trigger-rounds) trigger_rounds=${2:?}; shift ;;
	--only) only=${2:?}; shift ;;
	--workers) par_workers=${2:?}; shift ;;
	--no-10m) no_10m=1 ;;
	--repeat) repeat=${2:?}; shift ;;
	-h | --help)
		awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[[ "$rows" =~ ^[0-9]+$ && $rows -ge 1000 ]] || die "--rows must be a number >= 1000"
if [[ -z "$sizes" ]]; then
	sizes="100000 $rows"
	((large)) && sizes+=" 10000000"
fi
sizes=$(tr ' ' '\n' <<<"$sizes" | grep . | sort -n -u | tr '\n' ' ')
wants() { [[ ",$only," == *",$1,"* ]]; }

# --- tools -------------------------------------------------------------------
command -v psql >/dev/null || die "psql not found (bash scripts/install-deps.sh)"
command -v python3 >/dev/null || die "python3 not found"
pgbench=
for c in "${ECPLAN_PG_BIN:-}/pgbench" /usr/lib/postgresql/*/bin/pgbench "$(command -v pgbench || true)"; do
	[[ -x "$c" ]] && pgbench=$c
done
[[ -n "$pgbench" ]] || die "pgbench not found"
timebin=/usr/bin/time
if [[ ! -x $timebin ]]; then
	say "/usr/bin/time missing: installing the 'time' package"
	{ apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; }; } ||
		timebin=
fi

if [[ -z "$ecplan_bin" ]]; then
	ecplan_bin=$root/build-bench/ecplan
	if [[ ! -x "$ecplan_bin" ]]; then
		say "building a Release ecplan in build-bench/"
		cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release -DECPLAN_TESTS=OFF >/dev/null
		cmake --build "$root/build-bench" -j "$(nproc)" --target ecplan >/dev/null
	fi
fi
[[ -x "$ecplan_bin" ]] || die "ecplan binary '$ecplan_bin' not found"
ecplan_bin=$(cd "$(dirname "$ecplan_bin")" && pwd -P)/$(basename "$ecplan_bin")
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$ecplan_bin")/CMakeCache.txt" 2>/dev/null || true)
[[ "$build_type" == Release ]] || say "warning: $ecplan_bin is a '${build_type:-unknown}' build; figures are meant for Release"

results=${results:-$PWD/results/bench-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results/logs" "$results/plans"
results=$(cd "$results" && pwd -P)
figs=$results/figures.jsonl
: >"$figs"
fig() { python3 "$bdir/report.py" put "$figs" "$@"; }
say "results in $results"

# --- server ------------------------------------------------------------------
cleanup() {
	local rc=$?
	set +e
	[[ -n "${wl_pid:-}" ]] && kill "$wl_pid" 2>/dev/null
	if ((from_env == 0)) && [[ -n "${ECPLAN_PG_DIR:-}" ]]; then
		cp "$ECPLAN_PG_DIR/postgres.log" "$results/logs/postgres.log" 2>/dev/null
		ecplan_pg_stop "$ECPLAN_PG_DIR"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ((from_env == 0)); then
	# shellcheck source=pg.sh
	source "$root/scripts/pg.sh" functions
	ecplan_pg_start || die "could not start a throwaway PostgreSQL"
	server="throwaway server of scripts/pg.sh: fsync=off, synchronous_commit=off, full_page_writes=off, other settings default (shared_buffers 128MB)"
else
	[[ -n "${PGHOST:-}${PGDATABASE:-}" ]] || die "--server-from-env: set PGHOST etc."
	server="server of the PG* environment"
fi
export PGDATABASE=${PGDATABASE:-postgres}
admin_db=$PGDATABASE

sql() { # sql DB SQL...: runs SQL (stdin, several statements), prints rows
	local db=$1
	shift
	printf '%s\n' "$*" | psql -XAtq -v ON_ERROR_STOP=1 -d "$db"
}
mkdb() {
	sql "$admin_db" "SET client_min_messages = warning; DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
	sql "$admin_db" "CREATE DATABASE \"$1\"" >/dev/null
}
mk_orders() { # mk_orders DB TABLE ROWS
	psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -v tbl="$2" -v rows="$3" -f "$bdir/orders_table.sql" >/dev/null
}
now() { date +%s.%N; }
ecp() { # ecp DB ARGS...
	local db=$1
	shift
	PGDATABASE=$db "$ecplan_bin" "$@"
}
hist_json() { ecp "$1" history "$2" --json; }

# The bench plans, written into the results (the figures refer to them).
plan=$results/plans/bench-quantity-bigint.json
cat >"$plan" <<EOF
{
  "format": "ecplan/v1",
  "name": "bench-quantity-bigint",
  "description": "bench.sh: orders.quantity integer -> quantity_big bigint (plans/orders-quantity-bigint.json without its rate limit and default)",
  "table": "public.bench_orders",
  "change": {
    "column": "quantity",
    "new_column": "quantity_big",
    "type": "bigint",
    "up": "quantity::bigint",
    "down": "quantity_big::integer",
    "not_null": true
  },
  "backfill": { "batch_size": 5000, "target_batch_ms": 200, "pause_ms": 0, "max_rows_per_second": 0 },
  "safety": { "lock_timeout_ms": $lock_timeout_ms, "statement_timeout_ms": 300000, "lock_retries": 10,
              "max_transaction_age_s": 60 },
  "contract": { "min_soak_s": 0, "archive": false }
}
EOF
rplan=$results/plans/bench-rename.json
cat >"$rplan" <<EOF
{
  "format": "ecplan/v1",
  "name": "bench-rename",
  "description": "bench.sh: users.name -> full_name (the seed article's rename)",
  "table": "public.bench_users",
  "change": { "column": "name", "new_column": "full_name", "type": "text", "up": "name", "down": "full_name" },
  "safety": { "lock_timeout_ms": $lock_timeout_ms }
}
EOF
"$ecplan_bin" validate "$plan" "$rplan" >/dev/null || die "the bench plans do not validate"

mix_old="old_update.sql@4 old_insert.sql@1 old_read.sql@5"
mix_both="old_update.sql@2 new_update.sql@2 old_insert.sql@1 new_insert.sql@1 old_read.sql@3 new_read.sql@2"
mix_new="new_update.sql@4 new_insert.sql@1 new_read.sql@5"
fargs() { # fargs MIX: -f options
	local f
	for f in $1; do printf -- '-f\n%s/%s\n' "$bdir" "$f"; done
}
rate_args=()
((rate > 0)) && rate_args=(-R "$rate")
threads=$((clients < 2 ? 1 : 2))

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
fig meta started="$(date -u +%Y-%m-%dT%H:%M:%SZ)" command="$cmdline" cpus="$(nproc)" \
	mem_gib="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" \
	pg_version="$(sql "$admin_db" 'SHOW server_version')" server="$server" \
	ecplan_version="$("$ecplan_bin" --version | awk '{print $2}')" ecplan_build="${build_type:-?} build, $ecplan_bin" \
	plan="$(basename "$plan")" change="bench_orders.quantity integer → quantity_big bigint NOT NULL, up quantity::bigint, down quantity_big::integer, index on quantity (no default on the new column: see the notes)" \
	lock_timeout_ms="$lock_timeout_ms" batch_size=5000 target_batch_ms=200 rows="$rows" \
	workload="pgbench, $clients clients, $([[ $rate -gt 0 ]] && echo "rate $rate tx/s (Poisson)" || echo unthrottled); per transaction 40% point UPDATE by id, 10% INSERT, 50% point SELECT by id; old code names quantity, new code quantity_big (old only up to sync, both in backfill and switch, new only in contract)" \
	trigger_workload="pgbench, 4 clients, unthrottled, $trigger_s s per run, $trigger_rounds rounds interleaved (order rotated each round; before each run: inserted rows deleted, VACUUM FULL, CHECKPOINT; autovacuum off on these tables); 40% old-code point UPDATE, 40% new-code point UPDATE, 10% old-code INSERT, 10% new-code INSERT, on $trigger_rows-row tables" \
	trigger_notes="The seed trigger copies name to full_name on every INSERT, so a new-code INSERT that names only full_name ends with both columns NULL; ecplan's trigger keeps the given value. Its cost is measured as written."

fig note text="The bench plan gives quantity_big no default, unlike plans/orders-quantity-bigint.json, so that the plain UPDATE and ecplan write exactly the same values. (An early version of ecplan set the default at expand, before the trigger; rows inserted in between kept it and blocked switch: 287 of 21,659 rows in this benchmark's first runs. The default now goes in with the sync trigger; tests/integration/sm_default_gap.sh.)"

# --- 1. backfill throughput (and 4. peak RSS) -------------------------------
backfill_plain() { # backfill_plain DB: one UPDATE of the whole plain table; prints seconds
	local out ms
	sql "$1" "CHECKPOINT" >/dev/null
	out=$(printf '%s\n' '\timing on' 'UPDATE bench_orders_plain SET quantity_big = quantity::bigint;' |
		psql -Xq -v ON_ERROR_STOP=1 -d "$1")
	ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tail -n 1)
	awk -v ms="$ms" 'BEGIN {printf "%.3f", ms / 1000}'
}
backfill_ecplan() { # backfill_ecplan DB TAG: ecplan advance --to backfill; prints "phase-seconds rss-mib"
	local db=$1 tag=$2 t0 t1 rss
	ecp "$db" advance "$plan" --to sync --quiet
	sql "$db" "CHECKPOINT" >/dev/null
	t0=$(now)
	if [[ -n "$timebin" ]]; then
		PGDATABASE=$db "$timebin" -v -o "$results/logs/time-advance-$tag.txt" \
			"$ecplan_bin" advance "$plan" --to backfill --quiet
		rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$results/logs/time-advance-$tag.txt")
	else
		# No /usr/bin/time: poll VmHWM.
		PGDATABASE=$db "$ecplan_bin" advance "$plan" --to backfill --quiet &
		local pid=$! hwm=0 v
		while kill -0 "$pid" 2>/dev/null; do
			v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
			((${v:-0} > hwm)) && hwm=$v
			sleep 0.05
		done
		wait "$pid"
		rss=$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k/1024}')
	fi
	t1=$(now)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') $rss"
}
backfill_size() { # backfill_size N REPETITION
	local n=$1 r=$2 db=bench_fill_$1 plain_s phase_s rss step_s status rps last_batch tag=$1-$2
	say "backfill at $n rows, repetition $r: making two identical tables"
	mkdb "$db"
	mk_orders "$db" bench_orders "$n"
	mk_orders "$db" bench_orders_plain "$n"
	sql "$db" "ALTER TABLE bench_orders_plain ADD COLUMN quantity_big bigint" >/dev/null
	# Odd repetitions run the plain UPDATE first, even ones ecplan first.
	if ((r % 2)); then
		say "backfill at $n rows: plain UPDATE, then ecplan"
		plain_s=$(backfill_plain "$db")
		read -r phase_s rss < <(backfill_ecplan "$db" "$tag")
	else
		say "backfill at $n rows: ecplan, then plain UPDATE"
		read -r phase_s rss < <(backfill_ecplan "$db" "$tag")
		plain_s=$(backfill_plain "$db")
	fi
	hist_json "$db" bench-quantity-bigint >"$results/logs/history-fill-$tag.json"
	read -r step_s last_batch < <(python3 -c '
import json, re, sys
h = json.load(open(sys.argv[1]))
step = [float(m.group(1)) for e in h for m in [re.search(r"backfill: backfill \S+ done in ([0-9.]+) s", e["message"])] if m]
bs = [int(m.group(1)) for e in h for m in [re.search(r"batch size (\d+)", e["message"])] if m]
print(step[-1] if step else "", bs[-1] if bs else "")' "$results/logs/history-fill-$tag.json")
	status=$(ecp "$db" status bench-quantity-bigint --json)
	rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["backfill"]["rows_per_second"] or "")' "$status")
	ecp "$db" verify "$plan" >"$results/logs/verify-fill-$tag.txt" ||
		fig note text="verify after the $n-row backfill reported divergent rows (see logs/verify-fill-$tag.txt)"
	python3 - "$figs" "$n" "$r" "$plain_s" "$step_s" "$phase_s" "$rps" "$last_batch" "$rss" <<'EOF'
import json, sys
figs, n, r, plain_s, step_s, phase_s, rps, last, rss = sys.argv[1:]
n = int(n)
rec = {"section": "backfill_run", "rows": n, "repetition": int(r), "plain_seconds": float(plain_s),
       "plain_rows_per_s": round(n / float(plain_s)),
       "ecplan_seconds": float(step_s) if step_s else None,
       "ecplan_rows_per_s": round(n / float(step_s)) if step_s else None,
       "ecplan_phase_seconds": float(phase_s),
       "ecplan_status_rows_per_s": float(rps) if rps else None,
       "final_batch_size": int(last) if last else None,
       "rss_mib": float(rss) if rss else None}
rec["ratio"] = round(rec["ecplan_rows_per_s"] / rec["plain_rows_per_s"], 3) if step_s else None
open(figs, "a").write(json.dumps(rec) + "\n")
print(json.dumps(rec))
EOF
}

status_timing() {
	local db=$1 i t0 t1
	say "timing ecplan status --json"
	: >"$results/logs/status-times.txt"
	for i in $(seq 1 50); do
		t0=$(date +%s%N)
		ecp "$db" status bench-quantity-bigint --json >/dev/null
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000)) >>"$results/logs/status-times.txt"
	done
	# For scale: the same loop with psql running one query.
	: >"$results/logs/psql-times.txt"
	for i in $(seq 1 50); do
		t0=$(date +%s%N)
		PGDATABASE=$db psql -XAtq -c 'SELECT 1' >/dev/null
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000)) >>"$results/logs/psql-times.txt"
	done
	python3 - "$figs" "$results/logs/status-times.txt" "$results/logs/psql-times.txt" <<'EOF'
import json, sys
v = sorted(int(x) / 1000 for x in open(sys.argv[2]) if x.strip())
p = sorted(int(x) / 1000 for x in open(sys.argv[3]) if x.strip())
rec = {"section": "status_time", "plan": "bench-quantity-bigint", "runs": len(v),
       "median_ms": round(v[len(v) // 2], 2), "p90_ms": round(v[int(len(v) * 0.9) - 1], 2), "max_ms": round(v[-1], 2),
       "psql_select1_median_ms": round(p[len(p) // 2], 2)}
open(sys.argv[1], "a").write(json.dumps(rec) + "\n")
print(json.dumps(rec))
EOF
}

if wants fill; then
	for n in $sizes; do
		reps=$repeat
		((n > 1000000)) && reps=1
		for r in $(seq 1 "$reps"); do
			backfill_size "$n" "$r"
		done
	done
fi
# --- 1b. parallel backfill (backfill.workers) --------------------------------
# Side by side in one run at --rows rows, on identical tables in one database:
# one plain UPDATE, the same UPDATE with ecplan's sync trigger installed and
# the backfill mark set (the trigger's early return alone), ecplan with 1
# worker and with --workers workers. Then --workers workers at 10,000,000 rows
# (--no-10m skips it). For each ecplan run: WAL bytes, commits, and the server
# time of every statement by kind (log_min_duration_statement = 0 on the bench
# database, read from the throwaway server's log), so the report says where
# the time goes.
par_plan() { # par_plan WORKERS NAME TABLE: the bench plan with backfill.workers; prints its path
	python3 - "$plan" "$results/plans/$2.json" "$1" "$2" "$3" <<'EOF'
import json, sys
src, dst, w, name, table = sys.argv[1:]
p = json.load(open(src))
p["name"], p["table"] = name, "public." + table
p["description"] = f"bench.sh: the bench plan with backfill.workers {w}"
p["backfill"]["workers"] = int(w)
json.dump(p, open(dst, "w"), indent=2)
print(dst)
EOF
}
wal_lsn() { sql "$1" "SELECT pg_current_wal_lsn()"; }
wal_since() { sql "$1" "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$2')::bigint"; }
commits() { sql "$1" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
timed_sql() { # timed_sql DB SQL: prints the seconds of the last statement
	local out ms
	out=$(printf '%s\n' '\timing on' "$2" | psql -Xq -v ON_ERROR_STOP=1 -d "$1")
	ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tail -n 1)
	awk -v ms="$ms" 'BEGIN {printf "%.3f", ms / 1000}'
}
pg_log=${ECPLAN_PG_DIR:+$ECPLAN_PG_DIR/postgres.log}
par_ecplan() { # par_ecplan DB N WORKERS TABLE: one ecplan backfill; appends a figure
	local db=$1 n=$2 w=$3 tbl=$4 name p wal0 x0 t0 t1 wal x step_s line0=0
	name="bench-par-w$w"
	p=$(par_plan "$w" "$name" "$tbl")
	ecp "$db" advance "$p" --to sync --quiet
	sql "$db" "CHECKPOINT" >/dev/null
	[[ -r "$pg_log" ]] && line0=$(wc -l <"$pg_log")
	wal0=$(wal_lsn "$db")
	x0=$(commits "$db")
	t0=$(now)
	# The figures are the backfill step's (from the history); a later step of
	# the phase that fails is a note, not the end of the run.
	ecp "$db" advance "$p" --to backfill --quiet >"$results/logs/advance-par-$w-$n.txt" 2>&1 ||
		fig note text="parallel: ecplan advance --to backfill ($w workers, $n rows) failed after its backfill step: $(tail -n 3 "$results/logs/advance-par-$w-$n.txt" | tr '\n' ' ')"
	t1=$(now)
	wal=$(wal_since "$db" "$wal0")
	x=$(($(commits "$db") - x0))
	hist_json "$db" "$name" >"$results/logs/history-par-$w-$n.json"
	[[ -r "$pg_log" ]] && tail -n +"$((line0 + 1))" "$pg_log" | grep -F "db=$db " >"$results/logs/statements-par-$w-$n.log" || true
	python3 - "$figs" "$n" "$w" "$results/logs/history-par-$w-$n.json" "$results/logs/statements-par-$w-$n.log" \
		"$wal" "$x" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" <<'EOF'
import json, re, sys
figs, n, w, hist, stmts, wal, x, phase_s = sys.argv[1:]
n, w = int(n), int(w)
h = json.load(open(hist))
step = [float(m.group(1)) for e in h for m in [re.search(r"backfill: backfill \S+ done in ([0-9.]+) s", e["message"])] if m]
split = [float(m.group(1)) for e in h for m in [re.search(r"sampled keys, ([0-9.]+) s\)", e["message"])] if m]
bs = [int(m.group(1)) for e in h for m in [re.search(r"batch size (\d+)", e["message"])] if m]
kinds = {"bound query": r"OFFSET \$\d+ LIMIT 1", "UPDATE of the batch": r"^UPDATE \"public\"",
         "cursor save": r"ecplan\.backfill_ranges SET cursor|UPDATE ecplan\.plans SET cursor",
         "batch settings": r"set_config\('ecplan\.backfill'", "BEGIN / COMMIT": r"^(BEGIN|COMMIT)$",
         "plan poll": r"SELECT paused, sha256", "key sample": r"TABLESAMPLE"}
agg = {k: [0, 0.0] for k in kinds}
try:
    for line in open(stmts):
        m = re.search(r"duration: ([0-9.]+) ms  (?:statement|execute [^:]*|parse [^:]*|bind [^:]*): (.*)$", line)
        if not m:
            continue
        for k, rx in kinds.items():
            if re.search(rx, m.group(2)):
                agg[k][0] += 1 if " execute " in line or "statement:" in line else 0
                agg[k][1] += float(m.group(1))
                break
except OSError:
    pass
s = step[-1] if step else None
rec = {"section": "parallel_run", "rows": n, "workers": w, "ecplan_seconds": s,
       "ecplan_rows_per_s": round(n / s) if s else None, "phase_seconds": float(phase_s),
       "split_seconds": split[-1] if split else None, "final_batch_size": bs[-1] if bs else None,
       "wal_bytes": int(wal), "commits": int(x),
       "server_ms": {k: {"statements": v[0], "ms": round(v[1], 1)} for k, v in agg.items() if v[0] or v[1]}}
open(figs, "a").write(json.dumps(rec) + "\n")
print(json.dumps(rec))
EOF
}
par_plain() { # par_plain DB N TABLE [TRIGGER-PLAN-NAME]: one UPDATE of the whole table; appends a figure
	local db=$1 n=$2 tbl=$3 mark=${4:-} wal0 s wal set=
	sql "$db" "CHECKPOINT" >/dev/null
	[[ -n "$mark" ]] && set="SELECT set_config('ecplan.backfill', '$mark', false);"
	wal0=$(wal_lsn "$db")
	s=$(timed_sql "$db" "$set UPDATE $tbl SET quantity_big = quantity::bigint;")
	wal=$(wal_since "$db" "$wal0")
	fig parallel_plain rows="$n" trigger="$([[ -n "$mark" ]] && echo true || echo false)" seconds="$s" \
		rows_per_s="$(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.0f", n / s}')" wal_bytes="$wal"
	say "parallel: plain UPDATE at $n rows${mark:+ with the sync trigger}: $s s"
}
mk_par() { # mk_par DB TABLE ROWS: mk_orders, autovacuum off on the table
	mk_orders "$@"
	sql "$1" "ALTER TABLE $2 SET (autovacuum_enabled = off)" >/dev/null
}
par_size() { # par_size N [full]: full = plain, plain + trigger, 1 worker and --workers workers
	local n=$1 full=${2:-} db=bench_par_$1
	say "parallel backfill at $n rows: making the tables"
	mkdb "$db"
	# Every statement's time in the log; no autovacuum starting at a random
	# moment (after millions of updated rows it would also hold off the NOT
	# NULL check's lock past lock_timeout: it yields only after deadlock_timeout).
	sql "$admin_db" "ALTER DATABASE \"$db\" SET log_min_duration_statement = 0" >/dev/null
	mk_par "$db" "bench_par_w$par_workers" "$n"
	if [[ -n "$full" ]]; then
		mk_par "$db" bench_par_plain "$n"
		sql "$db" "ALTER TABLE bench_par_plain ADD COLUMN quantity_big bigint" >/dev/null
		mk_par "$db" bench_par_trig "$n"
		ecp "$db" advance "$(par_plan 1 bench-par-trig bench_par_trig)" --to sync --quiet
		mk_par "$db" bench_par_w1 "$n"
		par_plain "$db" "$n" bench_par_plain
		par_plain "$db" "$n" bench_par_trig bench-par-trig
		say "parallel: ecplan, 1 worker, at $n rows"
		par_ecplan "$db" "$n" 1 bench_par_w1
	fi
	say "parallel: ecplan, $par_workers workers, at $n rows"
	par_ecplan "$db" "$n" "$par_workers" "bench_par_w$par_workers"
	# A round trip, for scale: psql's SELECT 1 through pgbench, one client.
	if [[ -n "$full" ]]; then
		printf 'SELECT 1;\n' >"$results/logs/select1.sql"
		PGDATABASE=$db "$pgbench" -n -c 1 -t 2000 -f "$results/logs/select1.sql" >"$results/logs/select1.out" 2>&1 || true
		fig parallel_rtt ms="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$results/logs/select1.out")"
	fi
	sql "$admin_db" "SET client_min_messages = warning; DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
}
if wants parallel; then
	par_size "$rows" full
	((no_10m)) || par_size 10000000
fi

if wants status; then
	last=$(tr ' ' '\n' <<<"$sizes" | grep . | tail -n 1)
	if ! sql "$admin_db" "SELECT 1 FROM pg_database WHERE datname = 'bench_fill_$last'" | grep -q 1; then
		mkdb "bench_fill_$last"
		mk_orders "bench_fill_$last" bench_orders 100000
		ecp "bench_fill_$last" advance "$plan" --to backfill --quiet
	fi
	status_timing "bench_fill_$last"
fi

# --- 2. impact on the application ------------------------------------------
wl_pid=
wl_start() { # wl_start DB NAME MIX [pgbench -T seconds]
	local db=$1 name=$2 mix=$3 secs=${4:-86400}
	local -a f
	mapfile -t f < <(fargs "$mix")
	rm -f "$results/logs/$name".[0-9]*
	PGDATABASE=$db "$pgbench" -n -c "$clients" -j "$threads" "${rate_args[@]}" -T "$secs" -D nrows="$wl_rows" \
		-l --log-prefix="$results/logs/$name" "${f[@]}" >"$results/logs/$name.out" 2>"$results/logs/$name.err" &
	wl_pid=$!
}
wl_stop() { # SIGALRM ends a -T run as if its time were up: summary and logs complete
	if [[ -n "$wl_pid" ]]; then
		kill -ALRM "$wl_pid" 2>/dev/null || true
		wait "$wl_pid" || true
	fi
	wl_pid=
}
wl_stats() { # wl_stats NAME WINDOW-NAME START END MIX-LABEL MIX
	python3 "$bdir/report.py" pgbench "$figs" impact "$2" --logs "$results/logs/$1" \
		--stderr "$results/logs/$1.err" --window "$3" "$4" --scripts "$(sed 's/\.sql@[0-9]*//g' <<<"$6")" \
		mix="$5" >/dev/null
}

if wants impact; then
	wl_rows=$rows
	say "impact: making the $rows-row tables (ecplan and naive)"
	mkdb bench_impact
	mk_orders bench_impact bench_orders "$rows"
	mkdb bench_naive
	mk_orders bench_naive bench_orders "$rows"

	say "impact: baseline (${baseline_s} s)"
	sql bench_impact "CHECKPOINT" >/dev/null
	t0=$(now)
	wl_start bench_impact wl-baseline "$mix_old" "$baseline_s"
	wait "$wl_pid" || true
	wl_pid=
	t1=$(now)
	wl_stats wl-baseline "baseline (no change running)" "$(awk -v a="$t0" 'BEGIN {printf "%.6f", a + 1}')" "$t1" "old code" "$mix_old"

	for phase in expand sync backfill switch contract; do
		case $phase in
		expand | sync) mix=$mix_old label="old code" ;;
		backfill | switch) mix=$mix_both label="old + new code" ;;
		contract) mix=$mix_new label="new code" ;;
		esac
		say "impact: ecplan $phase under the workload"
		wl_start bench_impact "wl-$phase" "$mix"
		sleep 1.5
		t0=$(now)
		rc=0
		ecp bench_impact advance "$plan" --to "$phase" >"$results/logs/advance-$phase.txt" 2>&1 || rc=$?
		t1=$(now)
		sleep 1
		wl_stop
		[[ $rc -eq 0 ]] || {
			fig note text="ecplan advance --to $phase exited $rc under the workload: $(tail -n 3 "$results/logs/advance-$phase.txt" | tr '\n' ' ')"
			say "advance --to $phase exited $rc (see logs/advance-$phase.txt)"
		}
		wl_stats "wl-$phase" "ecplan $phase" "$t0" "$t1" "$label" "$mix"
	done
	hist_json bench_impact bench-quantity-bigint >"$results/logs/history-impact.json"
	retries=$(grep -c '"lock_timeout"' "$results/logs/history-impact.json" || true)
	fig note text="impact run: ecplan logged ${retries:-0} lock_timeout retries (history: logs/history-impact.json); final state $(ecp bench_impact status bench-quantity-bigint --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["phase"])')"

	say "impact: naive ALTER COLUMN TYPE under the workload"
	wl_start bench_naive wl-naive-type "$mix_old"
	sleep 1.5
	t0=$(now)
	sql bench_naive "ALTER TABLE bench_orders ALTER COLUMN quantity TYPE bigint" >/dev/null
	t1=$(now)
	sleep 1
	wl_stop
	wl_stats wl-naive-type "naive ALTER COLUMN quantity TYPE bigint" "$t0" "$t1" "old code" "$mix_old"
	say "impact: naive RENAME COLUMN under the workload"
	wl_start bench_naive wl-naive-rename "$mix_old"
	sleep 1.5
	t0=$(now)
	sql bench_naive "ALTER TABLE bench_orders RENAME COLUMN quantity TO quantity_big" >/dev/null
	t1=$(now)
	sleep 1
	wl_stop
	wl_stats wl-naive-rename "naive RENAME COLUMN quantity TO quantity_big" "$t0" "$t1" "old code (fails once the column is renamed)" "$mix_old"
fi

# --- 3. trigger overhead ----------------------------------------------------
trig_run() { # trig_run DB TABLE-LABEL CONFIG MIX ROUND
	local db=$1 label=$2 cfg=$3 mix=$4 r=$5 tps tbl name
	local -a f
	tbl=$([[ $label == rename* ]] && echo bench_users || echo bench_orders)
	# The same starting point for every run: the rows the previous run inserted
	# deleted, the table compacted (no dead rows), a checkpoint.
	sql "$db" "DELETE FROM $tbl WHERE id > $trigger_rows; VACUUM FULL $tbl; ANALYZE $tbl; CHECKPOINT" >/dev/null
	mapfile -t f < <(fargs "$mix")
	name="trig-${tbl}-${cfg// /_}-$r"
	PGDATABASE=$db "$pgbench" -n -c 4 -j 2 -T "$trigger_s" -D nrows="$trigger_rows" "${f[@]}" \
		>"$results/logs/$name.out" 2>"$results/logs/$name.err" || say "pgbench $name exited non-zero"
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$results/logs/$name.out")
	fig trigger table="$label" config="$cfg" round="$r" tps="${tps:-0}" \
		errors="$(grep -c 'aborted in command' "$results/logs/$name.err" || true)"
	say "trigger: $label / $cfg round $r: ${tps:-?} tps"
}
if wants trigger; then
	say "trigger overhead: making the $trigger_rows-row tables"
	mkdb bench_trig
	psql -XAtq -v ON_ERROR_STOP=1 -d bench_trig -v rows="$trigger_rows" -f "$bdir/users_table.sql" >/dev/null
	mk_orders bench_trig bench_orders "$trigger_rows"
	ecp bench_trig advance "$rplan" --to expand --quiet
	ecp bench_trig advance "$plan" --to expand --quiet
	rn_mix="rn_old_update.sql@4 rn_new_update.sql@4 rn_old_insert.sql@1 rn_new_insert.sql@1"
	q_mix="old_update.sql@4 new_update.sql@4 old_insert.sql@1 new_insert.sql@1"
	rn_label="rename name → full_name (users)"
	q_label="type change quantity → quantity_big (orders)"
	# Autovacuum would run at random moments; every run starts from a compacted table instead.
	sql bench_trig "ALTER TABLE bench_users SET (autovacuum_enabled = off);
		ALTER TABLE bench_orders SET (autovacuum_enabled = off)" >/dev/null
	rn_cfg() { # rn_cfg CONFIG ROUND: one run of the rename table with CONFIG installed
		case $1 in
		"no trigger") trig_run bench_trig "$rn_label" "no trigger" "$rn_mix" "$2" ;;
		ecplan)
			ecp bench_trig advance "$rplan" --to sync --quiet
			trig_run bench_trig "$rn_label" ecplan "$rn_mix" "$2"
			ecp bench_trig rollback "$rplan" --to expanded --quiet ;;
		seed)
			psql -XAtq -v ON_ERROR_STOP=1 -d bench_trig -f "$bdir/seed_trigger.sql" >/dev/null
			trig_run bench_trig "$rn_label" seed "$rn_mix" "$2"
			sql bench_trig "DROP TRIGGER sync_name_columns ON bench_users" >/dev/null ;;
		esac
	}
	q_cfg() {
		case $1 in
		"no trigger") trig_run bench_trig "$q_label" "no trigger" "$q_mix" "$2" ;;
		ecplan)
			ecp bench_trig advance "$plan" --to sync --quiet
			trig_run bench_trig "$q_label" ecplan "$q_mix" "$2"
			ecp bench_trig rollback "$plan" --to expanded --quiet ;;
		esac
	}
	# Interleaved rounds, the order rotated every round, so that no configuration
	# always runs first or last.
	rn_order=("no trigger" ecplan seed)
	q_order=("no trigger" ecplan)
	for r in $(seq 1 "$trigger_rounds"); do
		for i in 0 1 2; do
			rn_cfg "${rn_order[(i + r) % 3]}" "$r"
		done
		for i in 0 1; do
			q_cfg "${q_order[(i + r) % 2]}" "$r"
		done
	done
	# What ecplan's triggers look like, for the report.
	ecp bench_trig render "$rplan" --phase sync --db "dbname=bench_trig" >"$results/logs/trigger-rename.sql" 2>&1 || true
	ecp bench_trig render "$plan" --phase sync --db "dbname=bench_trig" >"$results/logs/trigger-quantity.sql" 2>&1 || true
fi

fig note text="Load average (1/5/15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg). Other work on the machine during the run skews the figures (the machine has $(nproc) CPUs)."
python3 "$bdir/report.py" render "$results"
say "report: $results/report.md, figures: $results/figures.json"
