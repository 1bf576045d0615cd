#!/usr/bin/env bash
# Chaos test of ecplan: runs a plan to the end while old-code and new-code
# writers keep writing, and keeps interrupting ecplan on the way.
#
# Usage: bash scripts/chaos.sh [--short | --long] [options]
#   --short               the CI size: 20,000 rows, one plan with up to 12 faults (a second
#                         and third while fewer than 8 faults hit something), < 60 s
#   (default)             200,000 rows, two plans back to back, about 35 faults per plan
#   --long                200,000 rows, four plans, about 50 faults per plan, then the
#                         plan-parser fuzzer (tests/fuzz/run.sh) for --fuzz-seconds when
#                         clang is installed
#   --rows N              rows of the table
#   --lifecycles N        plans run from planned to contracted, one after the other
#   --faults N            faults per plan (split over its stages)
#   --fuzz-seconds S      fuzzing time in --long mode (default 300)
#   --fuzz-build-dir DIR  clang build tree of the fuzzer (default build-fuzz)
#   --seed N              random seed (default: from the clock; printed). Timing still
#                         differs from run to run, so a seed does not replay a run exactly
#   --ecplan BIN          ecplan binary (default $ECPLAN_BIN, else build/ecplan)
#   --database DB         use this existing database (default: create chaos_<random>
#                         and drop it at the end)
#   --keep                keep the database and the work directory
# Server: the PG* variables when PGHOST is set, else a throwaway server of
# scripts/pg.sh, stopped at the end.
#
# Each plan (users.email -> email_normalized = lower(email), NOT NULL, its unique
# index rebuilt) goes through three stages, each one a loop of
# `ecplan advance` runs of which most are interrupted by a fault:
#   1. --to sync     old-code writers running
#   2. --to switch   old-code and new-code writers (backfill, index build, switch)
#   3. --all         new-code writers only (contract drops the old column)
# Faults (picked at random among those that fit where the plan is):
#   kill9_random     kill -9 after a random delay
#   kill9_ddl        kill -9 while its DDL waits for a lock another session holds
#   kill9_backfill   kill -9 in the middle of a backfill batch transaction
#   kill9_index      kill -9 during CREATE INDEX CONCURRENTLY
#   terminate_index  pg_terminate_backend of its session during CREATE INDEX
#                    CONCURRENTLY (leaves an invalid index to drop)
#   terminate        pg_terminate_backend of its session after a random delay
#   lock_exhaust     an open write transaction for 4.5 s: the lock retries run out (exit 6)
#   lock             besides any of the above, 30% of runs start with another
#                    session holding a conflicting lock (an open write or read
#                    transaction) for 0.3-3 s (1.5 s in --short), longer than
#                    lock_timeout_ms = 100; counted when ecplan had to wait for it
# After every fault the same command is run again (a resume).
# Expected exit codes of an interrupted run: 137 (killed), 1 (its connection was
# terminated), 6 (lock retries exhausted, only with a lock fault); 4 (the killed
# runner's session still holds the plan) is retried.
#
# Checked (any failure makes the exit status 1):
#   - every writer transaction succeeded (pgbench aborts a client on any error);
#   - every committed write is in the table: each writer logs its write in the
#     same transaction (table chaos_wlog), and the last logged write of every row
#     must be what the row holds, before contract (both columns) and after it;
#   - ecplan verify: 0 divergent rows before contract;
#   - no unexpected exit code; the plan ends contracted;
#   - status and history tell the true story: state contracted, not running,
#     no error left; every phase done exactly once and in order; a "retries
#     exhausted" error event for every run that exited 6; and after each exit 6,
#     status shows that error.
# Prints: iterations (ecplan runs), faults injected by kind, resumes, lost
# writes, divergent rows.
set -euo pipefail

me=chaos.sh
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
die() {
	echo "$me: error: $*" >&2
	exit 2
}
log() { echo "$me: $*" >&2; }

mode=default
rows=
lifecycles=
faults=
fuzz_seconds=300
fuzz_build=$root/build-fuzz
seed=
ecplan_bin=${ECPLAN_BIN:-}
database=
keep=0
while (($#)); do
	case "$1" in
	--short) mode=short ;;
	--long) mode=long ;;
	--rows) rows=${2:?}; shift ;;
	--lifecycles) lifecycles=${2:?}; shift ;;
	--faults) faults=${2:?}; shift ;;
	--fuzz-seconds) fuzz_seconds=${2:?}; shift ;;
	--fuzz-build-dir) fuzz_build=${2:?}; shift ;;
	--seed) seed=${2:?}; shift ;;
	--ecplan) ecplan_bin=${2:?}; shift ;;
	--database) database=${2:?}; shift ;;
	--keep) keep=1 ;;
	-h | --help)
		awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
case $mode in
short) : "${rows:=20000}" "${lifecycles:=1}" "${faults:=12}" "${min_faults:=8}" ;;
default) : "${rows:=200000}" "${lifecycles:=2}" "${faults:=35}" ;;
long) : "${rows:=200000}" "${lifecycles:=4}" "${faults:=50}" ;;
esac
min_faults=${min_faults:-0}
max_lifecycles=$((lifecycles > 3 ? lifecycles : 3))
seed=${seed:-$(($(date +%s%N) % 1000000007))}
RANDOM=$((seed % 32768))
rand() { # rand LO HI: uniform integer in [LO, HI]
	echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
}

[[ -n "$ecplan_bin" ]] || ecplan_bin=$root/build/ecplan
[[ -x "$ecplan_bin" ]] || die "ecplan binary '$ecplan_bin' not found (build it, or --ecplan BIN)"
command -v psql >/dev/null || die "psql not found"
pgbench=
for c in "${ECPLAN_PG_BIN:-}/pgbench" /usr/lib/postgresql/*/bin/pgbench "$(command -v pgbench || true)"; do
	[[ -x "$c" ]] && pgbench=$c
done
[[ -n "$pgbench" ]] || die "pgbench not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/ecplan-chaos.XXXXXX")
started_server=0
created_db=0
bg_pids=()
cleanup() {
	local rc=$? p
	set +e
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if ((created_db && !keep)); then
		PGDATABASE=postgres psql -XAtq -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1
	fi
	((started_server)) && ecplan_pg_stop "$ECPLAN_PG_DIR"
	if ((keep)); then
		log "kept $work${database:+ and database $database}"
	else
		rm -rf -- "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${PGHOST:-}" ]]; then
	# shellcheck source=pg.sh
	source "$root/scripts/pg.sh" functions
	ecplan_pg_start >/dev/null 2>&1 || die "could not start a throwaway PostgreSQL"
	started_server=1
fi
if [[ -z "$database" ]]; then
	database=chaos_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
	PGDATABASE=postgres psql -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$database\"" >/dev/null
	created_db=1
fi
export PGDATABASE=$database

q() { printf '%s\n' "$*" | psql -XAtq -v ON_ERROR_STOP=1; }
ecp() { "$ecplan_bin" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

log "seed $seed, mode $mode: $rows rows, $lifecycles plan(s), $faults faults per plan, database $database, work dir $work"

# --- counters -----------------------------------------------------------------
declare -A fault_count=() exit_count=()
iterations=0
resumes=0
locked_retries=0
missed=0
idle_holders=0
failures=()
total_lost=0
total_divergent=0
writer_errors=0
writer_txns=0
writer_max_ms=0
exit6_runs=0
fail() {
	failures+=("$*")
	log "FAILURE: $*"
}

# --- writers ------------------------------------------------------------------
# Every write is logged in chaos_wlog in its own transaction; seq is taken after
# the row's lock, so for one row seq order is commit order.
cat >"$work/old_update.sql" <<'EOF'
\set id random(1, :nrows)
\set v random(1, 1000000000)
BEGIN;
UPDATE chaos_users SET email = 'Old' || :id || '-' || :v || '@Mixed.Case', updated_at = now() WHERE id = :id;
INSERT INTO chaos_wlog (row_id, kind, val) VALUES (:id, 'old', 'Old' || :id || '-' || :v || '@Mixed.Case');
END;
EOF
cat >"$work/old_insert.sql" <<'EOF'
\set v random(1, 1000000000)
BEGIN;
INSERT INTO chaos_users (email, name) VALUES ('Ins-' || :tag || '-' || :client_id || '-' || :v || '@Mixed.Case', 'old insert') RETURNING id AS new_id \gset
INSERT INTO chaos_wlog (row_id, kind, val) VALUES (:new_id, 'old', 'Ins-' || :tag || '-' || :client_id || '-' || :v || '@Mixed.Case');
END;
EOF
cat >"$work/new_update.sql" <<'EOF'
\set id random(1, :nrows)
\set v random(1, 1000000000)
BEGIN;
UPDATE chaos_users SET email_normalized = 'new' || :id || '-' || :v || '@lower.case', updated_at = now() WHERE id = :id;
INSERT INTO chaos_wlog (row_id, kind, val) VALUES (:id, 'new', 'new' || :id || '-' || :v || '@lower.case');
END;
EOF
cat >"$work/new_insert.sql" <<'EOF'
\set v random(1, 1000000000)
BEGIN;
INSERT INTO chaos_users (email_normalized, name) VALUES ('nins-' || :tag || '-' || :client_id || '-' || :v || '@lower.case', 'new insert') RETURNING id AS new_id \gset
INSERT INTO chaos_wlog (row_id, kind, val) VALUES (:new_id, 'new', 'nins-' || :tag || '-' || :client_id || '-' || :v || '@lower.case');
END;
EOF
writer_pids=()
writer_names=()
writer_seq=0
writer_rate=$([[ $mode == short ]] && echo 60 || echo 150)
start_writer() { # start_writer old|new
	local kind=$1 name
	writer_seq=$((writer_seq + 1))
	name=w$writer_seq-$kind
	"$pgbench" -n -c 2 -j 1 -R "$writer_rate" -T 86400 -D nrows="$rows" -D tag="$writer_seq" \
		-l --log-prefix="$work/$name" -f "$work/${kind}_update.sql@4" -f "$work/${kind}_insert.sql@1" \
		>"$work/$name.out" 2>"$work/$name.err" &
	writer_pids+=($!)
	writer_names+=("$name")
	bg_pids+=($!)
}
stop_writers() { # SIGALRM ends a -T run as if its time were up
	local i p name n e mx
	for i in "${!writer_pids[@]}"; do
		p=${writer_pids[i]}
		name=${writer_names[i]}
		kill -ALRM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
		e=$(grep -c 'aborted in command' "$work/$name.err" || true)
		if ((e > 0)); then
			writer_errors=$((writer_errors + e))
			fail "writer $name: $e client(s) aborted by an error: $(grep -m1 'aborted' "$work/$name.err")"
		fi
		n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/$name.out")
		writer_txns=$((writer_txns + ${n:-0}))
		mx=$(cat "$work/$name".[0-9]* 2>/dev/null | awk '{l = $3 - ($7 == "" ? 0 : $7); if (l > m) m = l} END {printf "%d", m / 1000}')
		((${mx:-0} > writer_max_ms)) && writer_max_ms=$mx
	done
	writer_pids=()
	writer_names=()
}

# --- one interrupted run ------------------------------------------------------
holder_pid=
start_holder() { # start_holder KIND SECONDS: a session holding a conflicting lock
	local kind=$1 secs=$2 id
	id=$(rand 1 "$rows")
	case $kind in
	rowx) # an open write transaction: blocks ADD COLUMN, CREATE TRIGGER, DROP COLUMN,
		# ADD CONSTRAINT, CREATE INDEX CONCURRENTLY, and the batch holding row $id
		printf "BEGIN; UPDATE chaos_users SET updated_at = updated_at WHERE id = %d; SELECT pg_sleep(%s); COMMIT;\n" "$id" "$secs" ;;
	share) # a reader's open transaction: blocks ACCESS EXCLUSIVE DDL only
		printf "BEGIN; SELECT count(*) FROM chaos_users WHERE id = %d; SELECT pg_sleep(%s); COMMIT;\n" "$id" "$secs" ;;
	esac | PGAPPNAME=chaos-holder psql -XAtq >/dev/null 2>&1 &
	holder_pid=$!
	bg_pids+=($!)
	sleep 0.05
}
stop_holder() {
	[[ -n "$holder_pid" ]] && { wait "$holder_pid" 2>/dev/null || true; }
	holder_pid=
}
# wait_for PID CONDITION-SQL TIMEOUT-S: waits until the session of the ecplan run
# PID (started at $run_start_ms) matches CONDITION on pg_stat_activity; prints its
# backend pid and returns 0, or returns 1 when PID exits or time runs out first.
# The polling runs inside the server (chaos_wait_for, every 2 ms), fast enough
# to catch a 20 ms index build.
wait_seq=0
wait_for() {
	local pid=$1 cond=$2 secs=$3 wpid res
	wait_seq=$((wait_seq + 1))
	res=$work/wait.$wait_seq
	# psql itself in the background (not a shell function), so that $! is its pid.
	PGAPPNAME=chaos-wait psql -XAtq -v ON_ERROR_STOP=1 \
		-c "SELECT chaos_wait_for(\$c\$$cond\$c\$, to_timestamp($run_start_ms / 1000.0), $secs * 1000)" \
		>"$res" 2>/dev/null &
	wpid=$!
	while kill -0 "$wpid" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			# The run ended first: stop the probe, in the server too.
			q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'chaos-wait'" >/dev/null 2>&1
			kill "$wpid" 2>/dev/null
			wait "$wpid" 2>/dev/null
			return 1
		fi
		sleep 0.005
	done
	wait "$wpid" 2>/dev/null
	[[ -s "$res" && "$(cat "$res")" != 0 ]] || return 1
	cat "$res"
}

lock_timeouts() { # lock_timeout events of the plan so far
	ecp history "$planname" --json 2>/dev/null |
		python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["kind"] == "lock_timeout"))' 2>/dev/null ||
		echo 0
}
status_json() { ecp status "$planname" --json 2>/dev/null || echo '{}'; }
sfield() { # sfield JSON EXPR: a field of status --json (python expression on o)
	python3 -c 'import json,sys
try:
    o = json.loads(sys.argv[1])
    v = eval(sys.argv[2])
except Exception:
    v = None
print("-" if v is None else v)' "$1" "$2"
}

# run_once PLAN TARGET-ARGS FAULT HOLDER DELAY-MS: one `ecplan advance`, with FAULT
# (a way to end it, or none) and HOLDER (none, rowx or share: a session holding a
# conflicting lock for 0.3-3 s from the start); sets $run_rc.
run_once() {
	local planf=$1 target=$2 fault=$3 holder=$4 delay_ms=$5 pid injected=1 bpid out lt0=0 lt1 t0
	iterations=$((iterations + 1))
	out=$work/run-$iterations
	if [[ $fault == kill9_ddl ]]; then
		holder=rowx
		start_holder rowx "$(awk -v ms="$hold_max_ms" 'BEGIN {print ms / 1000}')"
	elif [[ $fault == lock_exhaust ]]; then
		# Longer than lock_timeout_ms x (lock_retries + 1) plus the backoff: exit 6, mostly.
		holder=rowx
		lt0=$(lock_timeouts)
		start_holder rowx 4.5
	elif [[ $holder != none ]]; then
		lt0=$(lock_timeouts)
		start_holder "$holder" "$(awk -v ms="$(rand 300 "$hold_max_ms")" 'BEGIN {print ms / 1000}')"
	fi
	# The binary itself, not a shell function: $! must be ecplan's own pid.
	# shellcheck disable=SC2086
	t0=$(now_ms)
	run_start_ms=$((t0 - 5))
	"$ecplan_bin" advance "$planf" $target >"$out.out" 2>"$out.err" &
	pid=$!
	case $fault in
	kill9_random)
		sleep "$(awk -v ms="$delay_ms" 'BEGIN {print ms / 1000}')"
		{ kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null; } || injected=0 ;;
	kill9_ddl)
		if wait_for "$pid" "wait_event_type = 'Lock'" 20 >/dev/null; then kill -9 "$pid" 2>/dev/null || injected=0; else injected=0; fi ;;
	kill9_backfill)
		if wait_for "$pid" "xact_start IS NOT NULL AND query LIKE 'UPDATE \"public\".\"chaos_users\"%'" 30 >/dev/null; then
			sleep "0.0$(rand 0 9)"
			kill -9 "$pid" 2>/dev/null || injected=0
		else injected=0; fi ;;
	kill9_index)
		if wait_for "$pid" "state = 'active' AND query LIKE 'CREATE UNIQUE INDEX CONCURRENTLY%'" 60 >/dev/null; then
			kill -9 "$pid" 2>/dev/null || injected=0
		else injected=0; fi ;;
	terminate_index)
		if bpid=$(wait_for "$pid" "state = 'active' AND query LIKE 'CREATE UNIQUE INDEX CONCURRENTLY%'" 60); then
			[[ "$(q "SELECT pg_terminate_backend($bpid)" 2>/dev/null)" == t ]] || injected=0
		else injected=0; fi ;;
	terminate)
		# Its session first (ecplan needs a few ms to connect), then the delay,
		# then whichever session of this run is there.
		if wait_for "$pid" "true" 20 >/dev/null; then
			sleep "$(awk -v ms="$delay_ms" 'BEGIN {print ms / 1000}')"
			bpid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'ecplan'
			          AND datname = current_database() AND backend_start >= to_timestamp($run_start_ms / 1000.0)
			          ORDER BY backend_start DESC LIMIT 1")
			{ [[ -n "$bpid" ]] && kill -0 "$pid" 2>/dev/null &&
				[[ "$(q "SELECT pg_terminate_backend($bpid)" 2>/dev/null)" == t ]]; } || injected=0
		else injected=0; fi ;;
	none | lock_exhaust) ;;
	esac
	run_rc=0
	wait "$pid" 2>/dev/null || run_rc=$?
	stop_holder
	if [[ $fault == lock_exhaust ]]; then
		((run_rc == 6)) || injected=0
		# Not exhausted, but waited: still a lock fault.
		((injected)) || ! (($(lock_timeouts) > lt0)) || { fault=lock; injected=1; }
	fi
	if [[ $fault != none ]]; then
		if ((injected)); then
			fault_count[$fault]=$((${fault_count[$fault]:-0} + 1))
			[[ $fault == *_index ]] && index_faults=$((index_faults + 1))
		else
			missed=$((missed + 1))
		fi
	fi
	# A held lock counts as a fault when ecplan had to wait for it and give up.
	if [[ $holder != none && $fault != kill9_ddl && $fault != lock_exhaust && $fault != lock ]]; then
		lt1=$(lock_timeouts)
		if ((lt1 > lt0)) || [[ $run_rc == 6 ]]; then
			fault_count[lock]=$((${fault_count[lock]:-0} + 1))
		else
			idle_holders=$((idle_holders + 1))
		fi
	fi
	exit_count[$run_rc]=$((${exit_count[$run_rc]:-0} + 1))
	case $run_rc in
	0 | 137 | 4) ;;
	1)
		# Only a terminated connection may end a run with exit 1.
		if [[ $fault != terminate* ]] || ! grep -qi 'terminat\|server closed\|connection' "$out.err"; then
			fail "run $iterations ($fault): exit 1: $(tr '\n' ' ' <"$out.err" | cut -c1-400)"
		fi ;;
	6)
		exit6_runs=$((exit6_runs + 1))
		[[ $holder != none ]] ||
			fail "run $iterations ($fault): exit 6 without a lock held by another session: $(tr '\n' ' ' <"$out.err" | cut -c1-300)"
		local le
		le=$(sfield "$(status_json)" 'o["last_error"]')
		[[ "$le" == *"lock not granted"* ]] || fail "run $iterations: exit 6 but status last_error is [$le]" ;;
	*) fail "run $iterations ($fault): unexpected exit $run_rc: $(tr '\n' ' ' <"$out.err" | cut -c1-400)" ;;
	esac
	[[ $run_rc == 4 ]] && locked_retries=$((locked_retries + 1))
	log "  run $iterations: advance $target, fault $fault$([[ $fault == none ]] || ((injected)) || echo ' (missed)')$([[ $holder == none ]] || echo ", lock held ($holder)") -> exit $run_rc after $(($(now_ms) - t0)) ms$([[ $fault == kill9_random || $fault == terminate ]] && echo " (delay $delay_ms ms)")"
	return 0
}

rank() {
	case $1 in
	planned) echo 0 ;; expanded) echo 1 ;; synced) echo 2 ;; backfilled) echo 3 ;;
	switched) echo 4 ;; contracted) echo 5 ;; *) echo -1 ;;
	esac
}

# pick_fault STAGE STATUS-JSON LAST: a fault that fits where the plan is now (LAST:
# the stage's last one), and the
# delay of kill9_random / terminate (about the time the run has left to do).
pick_fault() {
	local stage=$1 js=$2 last=$3 ph run step ndone total left kinds
	ph=$(sfield "$js" 'o["phase"]')
	run=$(sfield "$js" 'o["running_phase"]')
	step=$(sfield "$js" 'o["step"]')
	case $stage in
	1) kinds=(kill9_random kill9_random kill9_ddl terminate lock_exhaust) left=40 ;;
	3) kinds=(kill9_random kill9_random kill9_ddl terminate lock_exhaust) left=$((small ? 100 : 400)) ;;
	2)
		if [[ $ph == synced && ( $run == - || ( $run == backfill && $step == 0 ) ) ]]; then
			# Still batching: the time left is the rows left at the plan's rate.
			ndone=$(sfield "$js" 'o["backfill"]["rows_done"]')
			total=$(sfield "$js" 'o["backfill"]["rows_total"]')
			[[ $ndone =~ ^[0-9]+$ && $total =~ ^[0-9]+$ ]] || { ndone=0; total=$rows; }
			left=$(((total > ndone ? total - ndone : 0) * 1000 / rate + 300))
			# Short delays: many runs, each a few batches further.
			((left > (small ? 1000 : 1500))) && left=$((small ? 1000 : 1500))
			kinds=(kill9_random kill9_backfill kill9_backfill terminate)
			# Near the end of the batches, make sure the index build gets hit too.
			if ((index_faults == 0 && (last || ndone * 100 >= total * 85))); then
				kinds=(kill9_index terminate_index)
			fi
		elif [[ $ph == synced ]]; then
			kinds=(kill9_index terminate_index kill9_random) left=300
		else
			kinds=(kill9_random terminate) left=200
		fi ;;
	esac
	echo "${kinds[RANDOM % ${#kinds[@]}]} $(rand 0 "$left")"
}

# stage N PLAN TARGET-STATE "ADVANCE ARGS" NFAULTS: runs the command until the plan
# reaches TARGET-STATE, interrupting the first NFAULTS runs.
stage() {
	local sn=$1 planf=$2 goal=$3 args=$4 n=$5 js st run fault delay holder k=0 runs=0 deadline
	deadline=$(($(now_ms) + 600000))
	while :; do
		js=$(status_json)
		st=$(sfield "$js" 'o["phase"]')
		run=$(sfield "$js" 'o["running_phase"]')
		[[ $st == - ]] && st=planned
		if (($(rank "$st") >= $(rank "$goal"))) && [[ $run == - ]]; then
			break
		fi
		(($(now_ms) > deadline)) && {
			fail "stage --to $goal did not finish in 10 minutes (state $st, running $run)"
			return
		}
		((runs > 0)) && resumes=$((resumes + 1))
		runs=$((runs + 1))
		fault=none delay=0
		((k < n)) && read -r fault delay < <(pick_fault "$sn" "$js" $((k == n - 1)))
		holder=none
		if ((RANDOM % 10 < 3)); then
			holder=$([[ $((RANDOM % 2)) -eq 0 ]] && echo rowx || echo share)
		fi
		run_once "$planf" "$args" "$fault" "$holder" "$delay"
		if [[ $run_rc == 4 ]]; then
			# The previous runner's session still holds the plan: not a resume, no fault used.
			resumes=$((resumes - 1))
			sleep 0.2
		elif [[ $fault != none ]]; then
			k=$((k + 1))
		fi
	done
}

# --- the lifecycles -----------------------------------------------------------
check_writes() { # check_writes before|after: prints the number of lost writes
	local when=$1
	if [[ $when == before ]]; then
		q "WITH last AS (SELECT DISTINCT ON (row_id) row_id, kind, val FROM chaos_wlog ORDER BY row_id, seq DESC)
		   SELECT count(*) FROM last l LEFT JOIN chaos_users u ON u.id = l.row_id
		   WHERE u.id IS NULL
		      OR (l.kind = 'old' AND (u.email IS DISTINCT FROM l.val OR u.email_normalized IS DISTINCT FROM lower(l.val)))
		      OR (l.kind = 'new' AND (u.email_normalized IS DISTINCT FROM l.val OR u.email IS DISTINCT FROM l.val))"
	else
		q "WITH last AS (SELECT DISTINCT ON (row_id) row_id, kind, val FROM chaos_wlog ORDER BY row_id, seq DESC)
		   SELECT count(*) FROM last l LEFT JOIN chaos_users u ON u.id = l.row_id
		   WHERE u.id IS NULL
		      OR u.email_normalized IS DISTINCT FROM (CASE l.kind WHEN 'old' THEN lower(l.val) ELSE l.val END)"
	fi
}

check_story() { # status and history of a finished plan
	local s h
	s=$(ecp status "$planname" --json)
	h=$(ecp history "$planname" --json)
	local rc=0
	python3 - "$s" "$h" "$exit6_here" "$rows" 2>"$work/story-$planname.txt" <<'EOF' || rc=$?
import json, sys
s, h, exit6, rows = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bad = []
if s["phase"] != "contracted": bad.append(f"status phase {s['phase']}")
if s["running"] or s["running_phase"] or s["runner"]: bad.append(f"status says running ({s['running_phase']}, {s['runner']})")
if s["last_error"]: bad.append(f"status last_error left: {s['last_error']}")
# rows_done counts whole batches, but only the rows it updated in the last one
# (rows the writers' trigger already filled are skipped): a little under rows.
if not 0.9 * rows <= (s["backfill"]["rows_done"] or 0) <= 2 * rows:
    bad.append(f"backfill rows_done {s['backfill']['rows_done']} for {rows} rows")
done = [e["phase"] for e in h if e["kind"] == "phase" and " done: state " in e["message"]]
if done != ["expand", "sync", "backfill", "switch", "contract"]: bad.append(f"phases done in history: {done}")
ex = sum(1 for e in h if e["kind"] == "error" and "retries exhausted" in e["message"])
# A run can be killed after it recorded the error and before it exited 6.
if ex < exit6: bad.append(f"{ex} 'retries exhausted' error events for {exit6} runs that exited 6")
started = sum(1 for e in h if e["kind"] == "phase" and " started " in e["message"])
resumed = sum(1 for e in h if e["kind"] == "phase" and " resumed " in e["message"])
if started < 5: bad.append(f"only {started} phase starts in history")
print(f"chaos.sh: history of {s['name']}: {started} phase starts, {resumed} resumes, "
      f"{sum(1 for e in h if e['kind'] == 'lock_timeout')} lock_timeout retries, "
      f"{sum(1 for e in h if e['kind'] == 'error')} errors recorded", file=sys.stderr)
for b in bad: print(f"chaos.sh: {s['name']}: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
	((rc == 0)) ||
		fail "plan $planname: status/history do not tell the true story: $(grep -v 'history of' "$work/story-$planname.txt" | tr '\n' ' ')"
}

small=$([[ $mode == short ]] && echo 1 || echo 0)
rate=$((small ? 4000 : 25000)) # the plan's max_rows_per_second
hold_max_ms=$((small ? 1500 : 3000)) # longest time a fault holds a conflicting lock
injected_total() {
	local k t=0
	for k in "${!fault_count[@]}"; do t=$((t + fault_count[$k])); done
	echo $t
}
life=0
# Short mode runs another plan (at most three) while fewer than $min_faults
# faults found something to hit: timing faults sometimes land after the work.
# (only when the run so far took under 35 s, to stay within CI's time limit).
while ((life < lifecycles || (life < max_lifecycles && SECONDS < 35 && $(injected_total) < min_faults))); do
	life=$((life + 1))
	planname=chaos-email-$life
	planf=$work/$planname.json
	cat >"$planf" <<EOF
{
  "format": "ecplan/v1",
  "name": "$planname",
  "description": "chaos.sh: chaos_users.email -> email_normalized = lower(email)",
  "table": "public.chaos_users",
  "change": { "column": "email", "new_column": "email_normalized", "type": "text",
              "up": "lower(email)", "down": "email_normalized", "not_null": true },
  "backfill": { "batch_size": $((small ? 500 : 2000)), "target_batch_ms": 50,
                "max_rows_per_second": $rate },
  "safety": { "lock_timeout_ms": 100, "lock_retries": 4, "max_transaction_age_s": 60 },
  "contract": { "min_soak_s": 0, "archive": true }
}
EOF
	log "plan $life ($planname): making $rows rows"
	q "SET client_min_messages = warning;
	   DROP TABLE IF EXISTS chaos_users, chaos_wlog;
	   CREATE TABLE chaos_users (
	       id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	       email       varchar(255) NOT NULL,
	       name        text,
	       created_at  timestamptz NOT NULL DEFAULT now(),
	       updated_at  timestamptz NOT NULL DEFAULT now());
	   CREATE UNIQUE INDEX chaos_users_email_key ON chaos_users (email);
	   INSERT INTO chaos_users (email, name) SELECT 'User' || g || '@Example.COM', 'User ' || g
	   FROM generate_series(1, $rows) AS g;
	   CREATE TABLE chaos_wlog (seq bigserial PRIMARY KEY, row_id bigint NOT NULL, kind text NOT NULL,
	       val text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
	   VACUUM ANALYZE chaos_users;"
	# The fault injector's probe (see wait_for): the newest ecplan session started
	# after SINCE that matches COND, or 0 when that session ends or time runs out.
	q 'CREATE OR REPLACE FUNCTION chaos_wait_for(cond text, since timestamptz, timeout_ms int) RETURNS int
	   LANGUAGE plpgsql AS $f$
	   DECLARE p int; seen boolean := false; deadline timestamptz := clock_timestamp() + timeout_ms * interval '"'"'1 ms'"'"';
	   BEGIN
	     LOOP
	       PERFORM pg_stat_clear_snapshot();
	       EXECUTE format('"'"'SELECT pid FROM pg_stat_activity WHERE application_name = %L AND datname = current_database()
	                        AND backend_start >= %L AND (%s) ORDER BY backend_start DESC LIMIT 1'"'"', '"'"'ecplan'"'"', since, cond) INTO p;
	       IF p IS NOT NULL THEN RETURN p; END IF;
	       IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '"'"'ecplan'"'"'
	                  AND datname = current_database() AND backend_start >= since) THEN
	         seen := true;
	       ELSIF seen THEN
	         RETURN 0;
	       END IF;
	       IF clock_timestamp() > deadline THEN RETURN 0; END IF;
	       PERFORM pg_sleep(0.002);
	     END LOOP;
	   END $f$' >/dev/null
	exit6_before=$exit6_runs
	index_faults=0
	n1=$((faults / 4)) n2=$((faults / 2))
	n3=$((faults - n1 - n2))

	log "plan $life: stage 1 (expand, sync) with old-code writers, $n1 faults"
	start_writer old
	start_writer old
	stage 1 "$planf" synced "--to sync" "$n1"
	log "plan $life: stage 2 (backfill, switch) with old- and new-code writers, $n2 faults"
	start_writer new
	start_writer new
	stage 2 "$planf" switched "--to switch" "$n2"
	divergent=0
	ecp verify "$planf" >"$work/verify-$life.txt" 2>&1 || {
		divergent=$(sed -n 's/^divergent (both differ): \([0-9]*\).*/\1/p' "$work/verify-$life.txt")
		divergent=${divergent:-unknown}
		fail "plan $life: ecplan verify before contract: $(tr '\n' ' ' <"$work/verify-$life.txt")"
	}
	stop_writers
	lost=$(check_writes before)
	log "plan $life: before contract: $lost lost writes, $divergent divergent rows"
	((lost == 0)) || fail "plan $life: $lost committed writes are not in the table before contract"

	log "plan $life: stage 3 (contract) with new-code writers, $n3 faults"
	start_writer new
	start_writer new
	stage 3 "$planf" contracted "--all" "$n3"
	stop_writers
	lost2=$(check_writes after)
	log "plan $life: after contract: $lost2 lost writes"
	((lost2 == 0)) || fail "plan $life: $lost2 committed writes are not in the table after contract"
	total_lost=$((total_lost + lost + lost2))
	[[ $divergent =~ ^[0-9]+$ ]] && total_divergent=$((total_divergent + divergent))
	exit6_here=$((exit6_runs - exit6_before))
	check_story
	cat "$work/story-$planname.txt" >&2
	q "DROP SCHEMA IF EXISTS ecplan_archive CASCADE" >/dev/null 2>&1 || true
done

# --- the fuzzer (--long) -----------------------------------------------------
fuzz_result="not run"
if [[ $mode == long ]]; then
	if command -v clang >/dev/null || command -v clang-14 >/dev/null; then
		log "fuzzing the plan parser for $fuzz_seconds s (tests/fuzz/run.sh)"
		if bash "$root/tests/fuzz/run.sh" "$fuzz_seconds" "$fuzz_build" >"$work/fuzz.log" 2>&1; then
			fuzz_result="ok: $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$work/fuzz.log" | awk '{print $2}') runs in $fuzz_seconds s, no crash, leak or sanitizer report"
		else
			fuzz_result="FAILED (see $work/fuzz.log)"
			tail -n 40 "$work/fuzz.log" >&2
			keep=1
			fail "the fuzzer found a problem: $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$work/fuzz.log")"
		fi
	else
		fuzz_result="skipped (no clang)"
	fi
fi

# --- summary ------------------------------------------------------------------
fault_line=
total_faults=0
for k in kill9_random kill9_ddl kill9_backfill kill9_index terminate terminate_index lock lock_exhaust; do
	fault_line+=" $k=${fault_count[$k]:-0}"
	total_faults=$((total_faults + ${fault_count[$k]:-0}))
done
exit_line=
for k in $(printf '%s\n' "${!exit_count[@]}" | sort -n); do
	exit_line+=" $k:${exit_count[$k]}"
done
echo "chaos: seed $seed, mode $mode, $rows rows, $life plan(s) run from planned to contracted"
echo "iterations (ecplan runs): $iterations"
echo "faults injected: $total_faults ($fault_line ); faults that found nothing to hit: $missed; lock holders nobody waited for: $idle_holders"
echo "resumes: $resumes (plus $locked_retries retries after exit 4: the killed runner's session still held the plan)"
echo "exit codes:$exit_line"
echo "writer transactions committed: $writer_txns, writer errors: $writer_errors, longest writer transaction: $writer_max_ms ms"
echo "lost writes: $total_lost"
echo "divergent rows: $total_divergent"
[[ $mode == long ]] && echo "fuzzer: $fuzz_result"
if ((${#failures[@]})); then
	echo "RESULT: FAILED (${#failures[@]} problems)"
	printf '  - %s\n' "${failures[@]}"
	exit 1
fi
echo "RESULT: ok"
