-- The database role idem-server should run as: only the privileges it uses
-- (SECURITY.md, "Least privilege").
--
--   * owns schema idem, where its migrations create its own tables;
--   * SELECT, INSERT, UPDATE on the allowed tables (IDEM_TABLES), USAGE on
--     their schemas and on the sequences their defaults draw from;
--   * nothing else: not a superuser, cannot create databases, roles or
--     schemas, owns no application table, so it can neither ALTER nor DROP
--     one, and has no DELETE or TRUNCATE on them.
--
-- Run as a superuser or the database owner, connected to idem's database:
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 \
--        -v app_role=idem_app -v app_password="$IDEM_DB_PASSWORD" \
--        -v tables='public.orders,public.events' \
--        -f deploy/sql/least_privilege.sql
--
-- `tables` is the same list as IDEM_TABLES (a name with capitals must be
-- double-quoted, as in SQL). `app_role` defaults to idem_app. Safe to run
-- again: an existing role gets the new password, and a table added to the
-- list gets its grants. Grants on tables dropped from the list are not
-- revoked: REVOKE them by hand.
--
-- The password travels in a statement: keep log_statement off while this
-- runs, or set it afterwards with psql's \password.
\set ON_ERROR_STOP on
\if :{?app_role}
\else
  \set app_role idem_app
\endif
\if :{?app_password}
\else
  DO $$BEGIN RAISE EXCEPTION 'least_privilege.sql: pass -v app_password=...'; END$$;
\endif
\if :{?tables}
\else
  DO $$BEGIN RAISE EXCEPTION 'least_privilege.sql: pass -v tables=schema.name,...'; END$$;
\endif

BEGIN;

-- The role: may log in, nothing more.
SELECT format('CREATE ROLE %I', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB '
              'NOCREATEROLE NOREPLICATION NOBYPASSRLS',
              :'app_role', :'app_password') \gexec

-- Its own schema. The server's migrations create what is inside; tables a
-- previous run created as another role are handed over.
SELECT format('CREATE SCHEMA idem AUTHORIZATION %I', :'app_role')
WHERE to_regnamespace('idem') IS NULL \gexec
SELECT format('ALTER SCHEMA idem OWNER TO %I', :'app_role') \gexec
SELECT format('ALTER TABLE %s OWNER TO %I', c.oid::regclass, :'app_role')
FROM pg_class c
WHERE c.relnamespace = 'idem'::regnamespace AND c.relkind IN ('r', 'p') \gexec

-- The allowed tables: each must exist (the cast fails otherwise).
CREATE TEMPORARY TABLE idem_allowed ON COMMIT DROP AS
SELECT DISTINCT btrim(name)::regclass AS rel
FROM unnest(string_to_array(:'tables', ',')) AS name
WHERE btrim(name) <> '';

SELECT DISTINCT format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname,
                       :'app_role')
FROM idem_allowed a
JOIN pg_class c ON c.oid = a.rel
JOIN pg_namespace n ON n.oid = c.relnamespace \gexec
SELECT format('GRANT SELECT, INSERT, UPDATE ON TABLE %s TO %I', a.rel,
              :'app_role')
FROM idem_allowed a \gexec
-- serial and identity columns draw from sequences the table owns.
SELECT format('GRANT USAGE ON SEQUENCE %s TO %I', s.oid::regclass,
              :'app_role')
FROM idem_allowed a
JOIN pg_depend d ON d.refobjid = a.rel AND d.classid = 'pg_class'::regclass
                AND d.deptype IN ('a', 'i')
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \gexec

-- Warn about what the role can still do through PUBLIC: databases created
-- before PostgreSQL 15 let everyone CREATE in schema public.
SELECT format('DO $w$BEGIN RAISE WARNING %L; END$w$',
              format('role %s can CREATE in schema %s (through PUBLIC?): '
                     'REVOKE CREATE ON SCHEMA %s FROM PUBLIC',
                     :'app_role', n.nspname, n.nspname))
FROM pg_namespace n
WHERE n.nspname <> 'idem' AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
  AND has_schema_privilege(:'app_role', n.oid, 'CREATE') \gexec

COMMIT;
