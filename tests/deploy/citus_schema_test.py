#!/usr/bin/env python3
"""Checks that the `idem` schema can be distributed by tenant with Citus.

Rules (deploy/README.md, "Sharding: Citus"):
  1. every table of `idem` has a `tenant` column, and every primary key,
     unique constraint and unique index of it includes `tenant`;
  2. every ON CONFLICT target on an `idem` table includes `tenant`;
  3. no now() (or another clock or random function) inside
     ON CONFLICT ... DO UPDATE SET on an `idem` table.
`idem.schema_migrations` (bookkeeping of the migration runner) is the
exception: it becomes a Citus reference table.

  citus_schema_test.py static  --migrations DIR --sources DIR...
      rules 1 to 3 on the migration files and on the SQL text inside the
      server's sources (C++ string literals included);
  citus_schema_test.py catalog --server BINARY --database-url URL
      rule 1 on a real database: creates a scratch database, runs
      `BINARY migrate` on it, and reads the unique indexes from pg_catalog.
Exit 0 when the rules hold, 1 with one line per violation otherwise.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import urllib.parse

REFERENCE_TABLES = {"schema_migrations"}
CLOCK = re.compile(
    r"\b(now\s*\(|current_timestamp\b|current_time\b|localtimestamp\b|localtime\b|"
    r"clock_timestamp\s*\(|statement_timestamp\s*\(|transaction_timestamp\s*\(|"
    r"timeofday\s*\(|random\s*\(|gen_random_uuid\s*\()",
    re.IGNORECASE)
IDENT = r'(?:"[^"]+"|\w+)'


def unquote(name):
    name = name.strip()
    return name[1:-1] if name.startswith('"') else name.lower()


def columns(text):
    """Column names of a parenthesised list such as (tenant, lower(x))."""
    return {unquote(c.split()[0]) for c in text.split(",") if c.strip()}


def strip_sql_comments(sql):
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", " ", sql)


def check_create_table(stmt, where, errors):
    m = re.match(r"\s*CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?idem\.(" + IDENT + r")\s*\((.*)\)",
                 stmt, re.I | re.S)
    if not m:
        return
    table = unquote(m.group(1))
    if table in REFERENCE_TABLES:
        return
    body = m.group(2)
    # Split the body on top-level commas.
    parts, depth, cur = [], 0, ""
    for ch in body:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    cols = set()
    for part in (p.strip() for p in parts):
        head = part.split()[0].upper() if part else ""
        kw = re.match(r"(?:CONSTRAINT\s+" + IDENT + r"\s+)?(PRIMARY\s+KEY|UNIQUE)\s*(?:NULLS\s+(?:NOT\s+)?DISTINCT\s*)?\(([^)]*)\)",
                      part, re.I)
        if kw:
            if "tenant" not in columns(kw.group(2)):
                errors.append(f"{where}: idem.{table}: {kw.group(1).upper()} ({kw.group(2).strip()}) lacks tenant")
        elif head in ("CONSTRAINT", "CHECK", "FOREIGN", "EXCLUDE", "LIKE"):
            if head == "FOREIGN" or re.search(r"FOREIGN\s+KEY", part, re.I):
                fk = re.search(r"FOREIGN\s+KEY\s*\(([^)]*)\)", part, re.I)
                if fk and "tenant" not in columns(fk.group(1)):
                    errors.append(f"{where}: idem.{table}: FOREIGN KEY ({fk.group(1).strip()}) lacks tenant")
        elif part:
            name = unquote(part.split()[0])
            cols.add(name)
            if re.search(r"\b(PRIMARY\s+KEY|UNIQUE)\b", part, re.I) and name != "tenant":
                errors.append(f"{where}: idem.{table}: column {name} is unique on its own (needs tenant)")
    if "tenant" not in cols:
        errors.append(f"{where}: idem.{table}: no tenant column")


def check_statement(stmt, where, errors):
    check_create_table(stmt, where, errors)
    m = re.match(r"\s*CREATE\s+UNIQUE\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:" + IDENT +
                 r"\s+)?ON\s+(?:ONLY\s+)?idem\.(" + IDENT + r")\s*(?:USING\s+\w+\s*)?\(([^;]*)\)", stmt, re.I | re.S)
    if m and unquote(m.group(1)) not in REFERENCE_TABLES and "tenant" not in columns(m.group(2)):
        errors.append(f"{where}: unique index on idem.{unquote(m.group(1))} ({m.group(2).strip()}) lacks tenant")
    m = re.match(r"\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?idem\.(" + IDENT + r")\s+(.*)", stmt, re.I | re.S)
    if m and unquote(m.group(1)) not in REFERENCE_TABLES:
        for kw in re.finditer(r"(PRIMARY\s+KEY|UNIQUE)\s*\(([^)]*)\)", m.group(2), re.I):
            if "tenant" not in columns(kw.group(2)):
                errors.append(f"{where}: idem.{unquote(m.group(1))}: {kw.group(1).upper()} ({kw.group(2).strip()}) lacks tenant")
        if re.search(r"ADD\s+(?:COLUMN\s+)?\w+[^,]*\b(PRIMARY\s+KEY|UNIQUE)\b(?!\s*\()", m.group(2), re.I):
            errors.append(f"{where}: idem.{unquote(m.group(1))}: a column added as unique on its own")


def check_upserts(text, where, errors):
    """ON CONFLICT clauses on idem tables, in SQL or in C++ string literals."""
    for conflict in re.finditer(r"ON\s+CONFLICT\b", text, re.I):
        before = text[max(0, conflict.start() - 2000):conflict.start()]
        inserts = list(re.finditer(r"INSERT\s+INTO\s+(?:idem\.(" + IDENT + r")|(\S+))", before, re.I))
        if not inserts or not inserts[-1].group(1):
            continue  # not an idem table (Insert's statements on user tables)
        table = unquote(inserts[-1].group(1))
        if table in REFERENCE_TABLES:
            continue
        after = text[conflict.end():conflict.end() + 1500]
        target = re.match(r'\s*(?:"\s*"\s*)?\(([^)]*)\)', after)
        if re.match(r"\s*ON\s+CONSTRAINT", after, re.I):
            errors.append(f"{where}: ON CONFLICT ON CONSTRAINT on idem.{table}: name the columns (tenant first)")
        elif target and "tenant" not in columns(target.group(1)):
            errors.append(f"{where}: ON CONFLICT ({target.group(1).strip()}) on idem.{table} lacks tenant")
        update = re.search(r"DO\s+UPDATE\s+SET\b", after, re.I)
        nothing = re.search(r"DO\s+NOTHING", after, re.I)
        if update and not (nothing and nothing.start() < update.start()):
            end = re.search(r"\bRETURNING\b|;|\)\s*;", after[update.end():], re.I)
            clause = after[update.end():update.end() + (end.start() if end else 1000)]
            clock = CLOCK.search(clause)
            if clock:
                errors.append(f"{where}: {clock.group(1).strip()} inside ON CONFLICT DO UPDATE on idem.{table}: "
                              "pass the time as a parameter")


def run_static(args):
    errors = []
    migrations = sorted(pathlib.Path(args.migrations).glob("*.sql"))
    if not migrations:
        errors.append(f"{args.migrations}: no migration found")
    for path in migrations:
        sql = strip_sql_comments(path.read_text())
        for stmt in sql.split(";"):
            check_statement(stmt, path.name, errors)
        check_upserts(sql, path.name, errors)
    scanned = 0
    for root in args.sources:
        for path in sorted(pathlib.Path(root).rglob("*")):
            if path.suffix in (".cc", ".h", ".sql") and path.is_file():
                scanned += 1
                text = path.read_text(errors="replace")
                # Join adjacent C++ string literals ("a " "b") into one text.
                text = re.sub(r'"\s*\n\s*"', "", text)
                check_upserts(text, str(path), errors)
    return errors, f"{len(migrations)} migrations, {scanned} source files"


def run_catalog(args):
    url = urllib.parse.urlsplit(args.database_url)
    scratch = "idem_citus_check"
    admin = args.database_url
    scratch_url = urllib.parse.urlunsplit(url._replace(path="/" + scratch))

    def psql(target, sql):
        return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", sql],
                              check=True, capture_output=True, text=True).stdout

    psql(admin, f"DROP DATABASE IF EXISTS {scratch}")
    psql(admin, f"CREATE DATABASE {scratch}")
    try:
        env = dict(os.environ, IDEM_DATABASE_URL=scratch_url, IDEM_ALLOW_PLAINTEXT="true")
        run = subprocess.run([args.server, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            return [f"{args.server} migrate failed ({run.returncode}): {run.stderr.strip()[-500:]}"], ""
        errors = []
        tables = psql(scratch_url, """
            SELECT c.relname, bool_or(a.attname = 'tenant')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE n.nspname = 'idem' AND c.relkind IN ('r', 'p') GROUP BY c.relname""").split()
        for row in tables:
            name, has_tenant = row.split("|")
            if name not in REFERENCE_TABLES and has_tenant != "t":
                errors.append(f"idem.{name}: no tenant column")
        indexes = psql(scratch_url, """
            SELECT c.relname, i.indexrelid::regclass,
                   coalesce(bool_or(a.attname = 'tenant'), false)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
             WHERE n.nspname = 'idem' AND i.indisunique GROUP BY 1, 2""").split()
        for row in indexes:
            table, index, has_tenant = row.split("|")
            if table not in REFERENCE_TABLES and has_tenant != "t":
                errors.append(f"idem.{table}: unique index {index} lacks tenant")
        if not tables:
            errors.append("the migration created no table in schema idem")
        return errors, f"{len(tables)} tables, {len(indexes)} unique indexes in a migrated database"
    finally:
        psql(admin, f"DROP DATABASE IF EXISTS {scratch}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("static")
    s.add_argument("--migrations", required=True)
    s.add_argument("--sources", nargs="+", required=True)
    c = sub.add_parser("catalog")
    c.add_argument("--server", required=True)
    c.add_argument("--database-url", default=os.environ.get("IDEM_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if args.mode == "catalog" and not args.database_url:
        parser.error("--database-url or IDEM_TEST_DATABASE_URL is required")
    errors, what = run_static(args) if args.mode == "static" else run_catalog(args)
    for e in errors:
        print(f"citus_schema_test: {e}", file=sys.stderr)
    if errors:
        print(f"citus_schema_test: FAIL: {len(errors)} violation(s)", file=sys.stderr)
        return 1
    print(f"citus_schema_test: OK: {what}: tenant is in every key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
