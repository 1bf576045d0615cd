#!/usr/bin/env python3
"""Checks plans/schema.json against the plans and the invalid-plan cases.

  * every plans/*.json other than schema.json must be valid JSON and pass the
    schema;
  * every tests/cases/invalid/<case>/plan.json that is valid JSON (no syntax
    error, no duplicate key) must FAIL the schema, unless the case is in
    SCHEMA_CANNOT_EXPRESS below; a case listed there must pass the schema
    (so the list cannot go stale), and must exist;
  * when the schema rejects a case, every path in the case's expected.err must
    be the path, or inside the path, of some schema error: the schema must
    reject the plan for the reason the case is about, not another one.

Prints one verdict per file and exits 1 on any disagreement, 2 on a usage or
setup problem. Needs python3 with the jsonschema module (Debian:
python3-jsonschema) supporting draft 2020-12.

Usage: check_schema.py [SOURCE_DIR]   (default: this file's ../..)
       check_schema.py --expect [SOURCE_DIR]
           prints "<relative path> valid|invalid" for every example plan and
           every invalid case that is JSON: what any validator of the schema
           must say (tests/support/check_schema_js.cjs reads it)
"""
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    print("check_schema.py: the python module jsonschema is missing "
          "(apt-get install python3-jsonschema)", file=sys.stderr)
    sys.exit(2)

# Invalid cases whose error no JSON Schema can express: the schema accepts the
# plan and only `ecplan validate` rejects it. Keep this list minimal.
SCHEMA_CANNOT_EXPRESS = {
    "new-column-equals-column":
        "comparing two values (change.new_column != change.column) needs "
        "$data, which JSON Schema does not have",
    "webhook-name-duplicate":
        "uniqueItems compares whole items; uniqueness of one member "
        "(webhooks[].name) cannot be expressed",
}

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
EXPECTED_LINE = re.compile(r"(\d+):(\d+|\*): (\$.*)\Z")


class DuplicateKey(ValueError):
    pass


def reject_duplicates(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateKey("duplicate object key %s" % json.dumps(key))
        seen.add(key)
    return dict(pairs)


def load_json(path):
    """Returns (document, None) or (None, reason it is not JSON)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, "not UTF-8: %s" % e
    if not text.strip():
        return None, "empty"
    try:
        return json.loads(text, object_pairs_hook=reject_duplicates), None
    except (ValueError, DuplicateKey) as e:
        return None, str(e)


def json_path(parts):
    """ecplan's JSON path syntax: $.a.b[0]["weird key"]."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        elif IDENT.match(p):
            out += "." + p
        else:
            out += "[" + json.dumps(p, ensure_ascii=False) + "]"
    return out


def is_within(path, ancestor):
    """True when path is ancestor or lies inside it."""
    if path == ancestor:
        return True
    return path.startswith(ancestor) and path[len(ancestor)] in ".["


def expected_paths(case_dir):
    paths = []
    with open(os.path.join(case_dir, "expected.err"), encoding="utf-8") as f:
        for n, line in enumerate(f.read().splitlines(), 1):
            if not line.strip():
                continue
            m = EXPECTED_LINE.match(line)
            if not m:
                raise ValueError("expected.err:%d: not LINE:COL: PATH: %r" % (n, line))
            paths.append(m.group(3))
    return paths


def main(argv):
    if len(argv) > 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.abspath(argv[1] if len(argv) == 2 else os.path.join(here, "..", ".."))
    plans_dir = os.path.join(src, "plans")
    cases_dir = os.path.join(src, "tests", "cases", "invalid")

    schema, why = load_json(os.path.join(plans_dir, "schema.json"))
    if schema is None:
        print("FAIL plans/schema.json: not JSON: %s" % why)
        return 1
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        print("FAIL plans/schema.json: not a valid draft 2020-12 schema: %s" % e.message)
        return 1
    validator = jsonschema.Draft202012Validator(schema)
    print("ok   plans/schema.json: a valid draft 2020-12 schema")

    failures = 0
    nplans = 0
    for name in sorted(os.listdir(plans_dir)):
        if not name.endswith(".json") or name == "schema.json":
            continue
        nplans += 1
        rel = "plans/" + name
        doc, why = load_json(os.path.join(plans_dir, name))
        if doc is None:
            print("FAIL %s: not JSON: %s" % (rel, why))
            failures += 1
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            print("FAIL %s: the schema rejects an example plan:" % rel)
            for e in errors:
                print("       %s: %s" % (json_path(e.absolute_path), e.message))
            failures += 1
        else:
            print("ok   %s: valid" % rel)
    if nplans == 0:
        print("FAIL plans/: no example plans found")
        failures += 1

    cases = sorted(d for d in os.listdir(cases_dir)
                   if os.path.isdir(os.path.join(cases_dir, d)))
    for stale in sorted(set(SCHEMA_CANNOT_EXPRESS) - set(cases)):
        print("FAIL SCHEMA_CANNOT_EXPRESS lists %r, which is not a case" % stale)
        failures += 1
    for case in cases:
        d = os.path.join(cases_dir, case)
        rel = "tests/cases/invalid/%s/plan.json" % case
        try:
            exp = expected_paths(d)
        except (OSError, ValueError) as e:
            print("FAIL %s: %s" % (rel, e))
            failures += 1
            continue
        doc, why = load_json(os.path.join(d, "plan.json"))
        if doc is None:
            print("skip %s: not JSON (%s); only ecplan can check it" % (rel, why))
            continue
        errors = list(validator.iter_errors(doc))
        if case in SCHEMA_CANNOT_EXPRESS:
            if errors:
                print("FAIL %s: listed in SCHEMA_CANNOT_EXPRESS but the schema rejects it "
                      "(drop it from the list):" % rel)
                for e in errors:
                    print("       %s: %s" % (json_path(e.absolute_path), e.message))
                failures += 1
            else:
                print("ok   %s: accepted, as allowed: %s" % (rel, SCHEMA_CANNOT_EXPRESS[case]))
            continue
        if not errors:
            print("FAIL %s: the schema accepts an invalid plan (expected: %s)"
                  % (rel, ", ".join(exp)))
            failures += 1
            continue
        got = sorted({json_path(e.absolute_path) for e in errors})
        uncovered = [p for p in exp if not any(is_within(p, g) for g in got)]
        if uncovered:
            print("FAIL %s: rejected, but not at %s; schema errors:" % (rel, ", ".join(uncovered)))
            for e in errors:
                print("       %s: %s" % (json_path(e.absolute_path), e.message))
            failures += 1
            continue
        print("ok   %s: rejected (%s)" % (rel, "; ".join(
            "%s: %s" % (json_path(e.absolute_path), e.message) for e in errors)))

    if failures:
        print("check_schema.py: %d disagreement(s)" % failures)
        return 1
    print("check_schema.py: all %d plans and %d invalid cases agree with the schema"
          % (nplans, len(cases)))
    return 0


def expect(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.abspath(argv[1] if len(argv) == 2 else os.path.join(here, "..", ".."))
    for name in sorted(os.listdir(os.path.join(src, "plans"))):
        if name.endswith(".json") and name != "schema.json":
            print("plans/%s valid" % name)
    cases_dir = os.path.join(src, "tests", "cases", "invalid")
    for case in sorted(os.listdir(cases_dir)):
        rel = "tests/cases/invalid/%s/plan.json" % case
        doc, _ = load_json(os.path.join(src, rel))
        if doc is not None:
            print("%s %s" % (rel, "valid" if case in SCHEMA_CANNOT_EXPRESS else "invalid"))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--expect":
        sys.exit(expect(sys.argv[1:]))
    sys.exit(main(sys.argv))
