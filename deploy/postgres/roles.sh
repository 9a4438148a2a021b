#!/bin/sh
# The database and its two roles, run once as a PostgreSQL superuser on an empty cluster:
#   handoff      owns the database and its tables; `migrate` and backups connect as it.
#   handoff_app  owns nothing: web, worker and beat connect as it, so that the audit trail's
#                triggers hold for them (deploy/environment.md, "The audit trail").
# compose.yaml mounts it in the postgres image's /docker-entrypoint-initdb.d (it runs there when
# the data volume is first made); prod/stack.py runs it on the smoke's own cluster. psql finds
# the server from PGHOST/PGPORT, or the local socket.
#   HANDOFF_OWNER_PASSWORD, HANDOFF_APP_PASSWORD   the two roles' passwords (required)
#   POSTGRES_USER                                 the superuser to run as (postgres)
set -eu
: "${HANDOFF_OWNER_PASSWORD:?set HANDOFF_OWNER_PASSWORD}"
: "${HANDOFF_APP_PASSWORD:?set HANDOFF_APP_PASSWORD}"
superuser=${POSTGRES_USER:-postgres}

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$superuser" --dbname postgres \
  -v owner_password="$HANDOFF_OWNER_PASSWORD" -v app_password="$HANDOFF_APP_PASSWORD" <<'SQL'
CREATE ROLE handoff LOGIN PASSWORD :'owner_password';
CREATE ROLE handoff_app LOGIN PASSWORD :'app_password';
CREATE DATABASE handoff OWNER handoff;
\connect handoff
GRANT USAGE ON SCHEMA public TO handoff_app;
-- Every table and sequence `migrate` (as handoff) will create. pg_dump keeps these grants and
-- default privileges, so a database restored by its owner grants the same.
ALTER DEFAULT PRIVILEGES FOR ROLE handoff IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO handoff_app;
ALTER DEFAULT PRIVILEGES FOR ROLE handoff IN SCHEMA public
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO handoff_app;
SQL
echo "roles.sh: database handoff, owner handoff, application role handoff_app"
