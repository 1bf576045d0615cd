#!/usr/bin/env python3
"""Helpers of the dependent-object oracle (tests/support/depend_lib.sh).

  depend_oracle.py table PLAN               the plan's table as a quoted SQL name (with
                                            "changes": the first change's table)
  depend_oracle.py tables PLAN              every table the plan changes, quoted, one a line, in
                                            the order the plan first names them
  depend_oracle.py info PLAN                 three lines: the plan's name, table (quoted), column
                                            (with "changes": of the first change)
  depend_oracle.py changes PLAN             one line per change: table (quoted), column,
                                            new_column, type (empty when none), tab-separated
  depend_oracle.py field PLAN KEY [N]       change.KEY of the plan (column, new_column, ...), raw;
                                            with "changes": changes[N].KEY (N default 0; "table"
                                            gives the change's table, quoted)
  depend_oracle.py naive PLAN               the naive DDL that means what the plan means, on the
                                            database of the PG* environment (reads the old column);
                                            with "changes": that of every change, each on its own
                                            table (all type changes, then all renames, then NOT
                                            NULL and defaults, so that every `up` reads old names)
  depend_oracle.py compare EXPECTED GOT [--expected-label L] [--got-label L]
                                            compares two snapshots (depend_snapshot.sql output):
                                            prints one block per object that differs, exit 1
  depend_oracle.py rows EXPECTED GOT        compares two row dumps (multisets of lines), exit 1
  depend_oracle.py both SNAP_E SNAP_G ROWS_E ROWS_G LABEL_E LABEL_G
                                            both comparisons; exit 1 (catalog), 2 (rows), 3 (both)

The naive DDL is what PostgreSQL does when you change the column in place, under an
ACCESS EXCLUSIVE lock for the whole rewrite:

  ALTER TABLE t ALTER COLUMN c TYPE <type> [COLLATE <old>] USING (<up>);   -- type change or up
  ALTER SEQUENCE s AS <type>;              -- a serial's sequence narrower than the new integer
                                           -- type and at its type's end (ecplan widens it)
  ALTER TABLE t RENAME COLUMN c TO n;
  ALTER TABLE t ALTER COLUMN n SET NOT NULL;                               -- not_null
  ALTER TABLE t ALTER COLUMN n SET DEFAULT <default>;                      -- default

PostgreSQL itself rewrites every dependent object (constraints, indexes, triggers, foreign
keys, views, policies...) for that, so the catalog it leaves is the ground truth of "the
same schema, with the column changed". Doing the type change before the rename means `up`
is used as written (it names the old column). ALTER COLUMN TYPE resets the column's
storage, compression and collation to the new type's defaults; ecplan carries them over
(issue 8), so the naive DDL re-applies the old ones where the new type can have them.
"""
import json
import os
import subprocess
import sys
from collections import Counter


def qident(s):
    return '"' + s.replace('"', '""') + '"'


def parse_table(text):
    """Splits a plan's "table" into (schema, table), as the README says: names are
    literal, a part may be double-quoted (with "" for a quote), schema is public by
    default."""
    parts = []
    i = 0
    n = len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            buf = []
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
            if i < n and text[i] == ".":
                i += 1
        else:
            j = text.find(".", i)
            if j < 0 or len(parts) >= 1:
                parts.append(text[i:])
                break
            parts.append(text[i:j])
            i = j + 1
    if len(parts) == 1:
        return "public", parts[0]
    return parts[0], parts[1]


def load_plan(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def plan_changes(plan):
    """The plan's changes as a list of (table text, change object): `change` is one,
    `changes` each with its own `table` or else the plan's."""
    if "changes" in plan:
        return [(ch.get("table", plan.get("table")), ch) for ch in plan["changes"]]
    return [(plan["table"], plan["change"])]


def qname(text):
    s, t = parse_table(text)
    return qident(s) + "." + qident(t)


def qtable(plan):
    return qname(plan_changes(plan)[0][0])


def qtables(plan):
    seen = []
    for text, _ in plan_changes(plan):
        q = qname(text)
        if q not in seen:
            seen.append(q)
    return seen


def psql(sql, *params):
    """Runs one query with psql variables p1..pN; returns rows as lists of fields."""
    args = ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\x1f"]
    for k, v in enumerate(params, 1):
        args += ["-v", f"p{k}={v}"]
    r = subprocess.run(args, input=sql, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit(r.returncode)
    return [line.split("\x1f") for line in r.stdout.splitlines()]


def naive_parts(table_text, ch):
    """The naive DDL of one change as three lists of statements: the rewrite (type,
    storage, compression, sequence), the rename, and NOT NULL / default."""
    schema, table = parse_table(table_text)
    t = qident(schema) + "." + qident(table)
    col, new = ch["column"], ch["new_column"]
    rows = psql(
        """SELECT format_type(a.atttypid, a.atttypmod),
                  coalesce((SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
                            JOIN pg_namespace cn ON cn.oid = co.collnamespace
                            WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation), ''),
                  CASE WHEN a.attstorage <> ty.typstorage THEN a.attstorage::text ELSE '' END,
                  coalesce(a.attcompression::text, '')
             FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
            WHERE a.attrelid = format('%I.%I', :'p1', :'p2')::regclass AND a.attname = :'p3'
              AND NOT a.attisdropped""",
        schema, table, col)
    if len(rows) != 1:
        sys.exit(f"depend_oracle: column {col!r} not found in {table_text!r}")
    old_type, old_coll, old_storage, old_compr = rows[0]
    new_type = ch.get("type") or old_type
    up = ch.get("up")
    stmts, rename, after = [], [], []
    # The new type as PostgreSQL spells it, whether it is collatable and varlena.
    probe = psql("CREATE TEMP TABLE depend_oracle_probe (v " + new_type + ");"
                 "SELECT format_type(a.atttypid, a.atttypmod), ty.typcollation <> 0, ty.typstorage <> 'p'"
                 "  FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid"
                 " WHERE a.attrelid = 'depend_oracle_probe'::regclass AND a.attname = 'v'")
    new_type_name, collatable, is_varlena = probe[-1][0], probe[-1][1] == "t", probe[-1][2] == "t"
    # A type change (or an `up` that is more than the column itself) rewrites the column.
    up_is_col = up is None or up.strip() == qident(col) or (
        up.strip().lower() == col and col == col.lower() and col.isidentifier())
    type_changes = new_type_name != old_type
    if type_changes or not up_is_col:
        coll = " COLLATE " + old_coll if old_coll and collatable else ""
        using = up if up is not None else f"{qident(col)}::{new_type}"
        stmts.append(f"ALTER TABLE {t} ALTER COLUMN {qident(col)} TYPE {new_type}{coll} USING ({using});")
        storage_names = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}
        if old_storage and is_varlena:
            stmts.append(f"ALTER TABLE {t} ALTER COLUMN {qident(col)} SET STORAGE {storage_names[old_storage]};")
        if old_compr and is_varlena:
            method = {"p": "pglz", "l": "lz4"}[old_compr]
            stmts.append(f"ALTER TABLE {t} ALTER COLUMN {qident(col)} SET COMPRESSION {method};")
        stmts += widened_sequence(schema, table, col, new_type)
    rename.append(f"ALTER TABLE {t} RENAME COLUMN {qident(col)} TO {qident(new)};")
    if ch.get("not_null"):
        after.append(f"ALTER TABLE {t} ALTER COLUMN {qident(new)} SET NOT NULL;")
    if ch.get("default") is not None:
        after.append(f"ALTER TABLE {t} ALTER COLUMN {qident(new)} SET DEFAULT {ch['default']};")
    return stmts, rename, after


def widened_sequence(schema, table, col, new_type):
    """ecplan widens a sequence owned by the column (serial) that is narrower than the
    new integer type and ends at its type's end (integer -> bigint of a serial key:
    README, "Keys that other tables reference"); ALTER COLUMN TYPE leaves it as it is,
    so the naive DDL says it. Nothing for any other change (identity sequences follow
    the column's type by themselves)."""
    rows = psql(
        """SELECT format('%I.%I', sn.nspname, sc.relname), format_type(nt.oid, NULL)
             FROM pg_depend d
             JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
             JOIN pg_namespace sn ON sn.oid = sc.relnamespace
             JOIN pg_sequence s ON s.seqrelid = sc.oid
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             CROSS JOIN LATERAL (SELECT to_regtype(:'p4') AS oid) nt
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.deptype = 'a' AND a.attidentity = ''
              AND d.refobjid = format('%I.%I', :'p1', :'p2')::regclass AND a.attname = :'p3'
              AND s.seqtypid <> nt.oid AND nt.oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
              AND s.seqmax = CASE s.seqtypid WHEN 'int2'::regtype THEN 32767
                                             WHEN 'int4'::regtype THEN 2147483647 ELSE s.seqmax END""",
        schema, table, col, new_type)
    return [f"ALTER SEQUENCE {seq} AS {typ};" for seq, typ in rows]


def naive(plan):
    parts = [naive_parts(text, ch) for text, ch in plan_changes(plan)]
    stmts = [x for p in parts for x in p[0]] + [x for p in parts for x in p[1]] + [x for p in parts for x in p[2]]
    return "\n".join(stmts) + "\n"


def unescape(v):
    out = []
    i = 0
    while i < len(v):
        c = v[i]
        if c == "\\" and i + 1 < len(v):
            nxt = v[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def read_snapshot(path):
    objs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            obj, prop, val = line.split("\t", 2)
            objs.setdefault(obj, {})[prop] = unescape(val)
    return objs


def show(v, indent):
    lines = v.split("\n")
    if len(lines) == 1:
        return v
    return ("\n" + indent).join(lines)


def summary(props):
    keep = ("definition", "type", "not_null", "default", "kind", "owned_by")
    def short(v):
        v = v.replace("\n", " ")
        return v if len(v) <= 160 else v[:157] + "..."
    parts = [f"{k}={short(props[k])}" for k in keep if k in props]
    if not parts:
        parts = [f"{k}={v}" for k, v in sorted(props.items())][:4]
    return "; ".join(parts)


def compare(exp_path, got_path, exp_label, got_label):
    exp = read_snapshot(exp_path)
    got = read_snapshot(got_path)
    problems = 0
    w = max(len(exp_label), len(got_label)) + 1
    for obj in sorted(set(exp) | set(got)):
        e, g = exp.get(obj), got.get(obj)
        if e == g:
            continue
        problems += 1
        if g is None:
            print(f"  MISSING {obj}")
            print(f"    {exp_label + ':':<{w}} {show(summary(e), ' ' * (w + 5))}")
            print(f"    {got_label + ':':<{w}} (absent)")
            continue
        if e is None:
            print(f"  EXTRA   {obj}")
            print(f"    {exp_label + ':':<{w}} (absent)")
            print(f"    {got_label + ':':<{w}} {show(summary(g), ' ' * (w + 5))}")
            continue
        print(f"  CHANGED {obj}")
        for prop in sorted(set(e) | set(g)):
            if e.get(prop) != g.get(prop):
                print(f"    {prop}:")
                print(f"      {exp_label + ':':<{w}} {show(e.get(prop, '(absent)'), ' ' * (w + 7))}")
                print(f"      {got_label + ':':<{w}} {show(g.get(prop, '(absent)'), ' ' * (w + 7))}")
    return problems


def compare_rows(exp_path, got_path, exp_label, got_label):
    def load(p):
        with open(p, encoding="utf-8") as f:
            return Counter(line.rstrip("\n") for line in f if line.strip())
    e, g = load(exp_path), load(got_path)
    missing = e - g
    extra = g - e
    n = 0
    for line in sorted(missing.elements())[:5]:
        print(f"  ROW only in {exp_label}: {line}")
        n += 1
    for line in sorted(extra.elements())[:5]:
        print(f"  ROW only in {got_label}: {line}")
        n += 1
    more = sum(missing.values()) + sum(extra.values()) - n
    if more > 0:
        print(f"  ... and {more} more differing rows")
    return sum(missing.values()) + sum(extra.values())


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "table":
        print(qtable(load_plan(argv[2])))
    elif cmd == "tables":
        for q in qtables(load_plan(argv[2])):
            print(q)
    elif cmd == "changes":
        for text, ch in plan_changes(load_plan(argv[2])):
            print("\t".join([qname(text), ch["column"], ch["new_column"], ch.get("type") or ""]))
    elif cmd == "field":
        plan = load_plan(argv[2])
        k = int(argv[4]) if len(argv) > 4 else 0
        changes = plan_changes(plan)
        if not 0 <= k < len(changes):
            sys.exit(f"depend_oracle: the plan has no change {k}")
        text, ch = changes[k]
        v = qname(text) if argv[3] == "table" else ch.get(argv[3])
        print("" if v is None else (v if isinstance(v, str) else json.dumps(v)))
    elif cmd == "name":
        print(load_plan(argv[2])["name"])
    elif cmd == "info":
        plan = load_plan(argv[2])
        print(plan["name"])
        print(qtable(plan))
        print(plan_changes(plan)[0][1]["column"])
    elif cmd == "naive":
        sys.stdout.write(naive(load_plan(argv[2])))
    elif cmd == "both":
        # both EXP_SNAP GOT_SNAP EXP_ROWS GOT_ROWS LABEL_E LABEL_G: catalog, then rows
        exp_label, got_label = argv[6], argv[7]
        bad = 0
        if compare(argv[2], argv[3], exp_label, got_label):
            bad |= 1
        n = compare_rows(argv[4], argv[5], exp_label, got_label)
        if n:
            print(f"  ({n} rows differ)")
            bad |= 2
        sys.exit(bad)
    elif cmd in ("compare", "rows"):
        exp_label, got_label = "expected", "got"
        rest = argv[4:]
        while rest:
            if rest[0] == "--expected-label":
                exp_label = rest[1]
            elif rest[0] == "--got-label":
                got_label = rest[1]
            else:
                sys.exit(f"unknown option {rest[0]}")
            rest = rest[2:]
        fn = compare if cmd == "compare" else compare_rows
        sys.exit(1 if fn(argv[2], argv[3], exp_label, got_label) else 0)
    else:
        sys.exit(f"unknown command {cmd}\n{__doc__}")


if __name__ == "__main__":
    os.environ.setdefault("PGAPPNAME", "depend-oracle")
    main(sys.argv)
