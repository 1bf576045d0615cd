#!/usr/bin/env bash
# The README's first command: the main job of ecplan, end to end, on a
# throwaway local PostgreSQL that this script starts and stops itself.
#
# It installs what is missing, builds ecplan, creates public.users with
# realistic rows (mixed-case e-mail addresses), starts an "old code" writer
# (writes only email) and a "new code" writer (writes only email_normalized),
# then runs plans/users-email-lower.json through all five phases with
# `ecplan advance`, printing `ecplan status` between phases, and ends with
# `ecplan verify` (0 divergent rows) and a look at the table.
#
# Usage: sudo bash scripts/demo.sh [--rows N] [--no-install]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
rows=200000
install=1
while (($#)); do
	case "$1" in
	--rows) rows=$2; shift ;;
	--no-install) install=0 ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if ((install)); then
	step "installing dependencies (skips what is present)"
	bash scripts/install-deps.sh
fi
step "building ecplan (first build: a minute or two; progress below)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Compiler progress is shown: a first build takes a minute or two on 2 cores.
cmake --build build -j"$(nproc)"
ecplan=$root/build/ecplan

step "starting a throwaway PostgreSQL"
# shellcheck source=scripts/pg.sh
source scripts/pg.sh start
writers=()
cleanup() {
	for p in "${writers[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ecplan_pg_stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -XAtq -c "CREATE DATABASE demo"
export PGDATABASE=demo

step "creating public.users with $rows rows"
psql -XAtq -v ON_ERROR_STOP=1 -v rows="$rows" <<'SQL'
CREATE TABLE public.users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       varchar(255) NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.users (email, name)
SELECT 'User' || g || '@Example.COM', 'User ' || g FROM generate_series(1, :rows) AS g;
CREATE UNIQUE INDEX users_email_key ON public.users (email);
ANALYZE public.users;
SQL
psql -XAt -c "SELECT id, email FROM users ORDER BY id LIMIT 3"

step "starting writers: old code writes email, new code writes email_normalized"
(
	i=0
	while :; do
		i=$((i + 1))
		psql -XAtq -c "UPDATE users SET email = 'Old' || $i || '@Example.COM', updated_at = now() WHERE id = 1 + ($i * 7919) % $rows; INSERT INTO users (email) VALUES ('OldInsert' || $i || '@Example.COM')" 2>/dev/null || true
		sleep 0.05
	done
) &
writers+=($!)
(
	i=0
	while :; do
		i=$((i + 1))
		# new code is deployed behind a flag; it writes email_normalized only once
		# the sync trigger is in (writing it earlier would leave rows out of agreement)
		psql -XAtq -c "SELECT 1 FROM pg_trigger WHERE tgname LIKE 'zz_ecplan_sync_%'" | grep -q 1 || { sleep 0.2; continue; }
		psql -XAtq -c "UPDATE users SET email_normalized = 'new' || $i || '@example.com' WHERE id = 2 + ($i * 104729) % $rows" 2>/dev/null || true
		sleep 0.05
	done
) &
writers+=($!)

plan=plans/users-email-lower.json
step "the plan: $plan"
cat "$plan"
step "ecplan check $plan"
"$ecplan" check "$plan" || true

for phase in expand sync backfill switch contract; do
	step "ecplan advance $plan   # runs $phase"
	"$ecplan" advance "$plan"
	if [ "$phase" = switch ]; then
		step "ecplan verify $plan   # before contract: must be 0 divergent rows"
		"$ecplan" verify "$plan"
	fi
	step "ecplan status users-email-lower"
	"$ecplan" status users-email-lower
done

for p in "${writers[@]}"; do kill "$p" 2>/dev/null || true; done
writers=()
wait 2>/dev/null || true

step "the table afterwards: email is gone, email_normalized is NOT NULL and indexed"
psql -X -c '\d public.users'
psql -XAt -c "SELECT id, email_normalized FROM users ORDER BY id LIMIT 3"
step "the old values are archived"
psql -XAt -c "SELECT count(*) AS archived_rows FROM ecplan_archive.\"users-email-lower\""
step "ecplan history users-email-lower (last 8 events)"
"$ecplan" history users-email-lower | tail -n 8
step "status --json (what CI pipelines parse)"
"$ecplan" status users-email-lower --json
echo
echo "demo done: the server is stopped and its directory removed."
