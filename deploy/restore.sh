#!/usr/bin/env bash
# Restore a backup of deploy/backup.sh into an EMPTY database, and put the files back.
#
#   DATABASE_URL=postgres://.../handoff_restored deploy/restore.sh BACKUP_DIR/<timestamp>
#
# 1. Checks MANIFEST.sha256: a damaged or altered backup restores nothing.
# 2. Refuses a database that already has tables (create an empty one: CREATE DATABASE ...).
# 3. pg_restore --no-owner --exit-on-error --single-transaction: all of it or nothing; the
#    tables belong to the role of DATABASE_URL. PG_RESTORE_OPTIONS adds options (for example
#    --no-acl where the roles granted in the source database do not exist).
# 4. The files: into the buckets the AWS_* variables name (objects/), or into MEDIA_ROOT and
#    PRIVATE_ROOT (files/*.tar); that the settings name the kind of place the backup's files
#    need is checked before the database is touched, and that those buckets or folders are
#    empty before pg_restore (a restore adds files; it never deletes what is there).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: DATABASE_URL=postgres://... $0 BACKUP_DIR/<timestamp>" >&2
  exit 2
fi
source_dir=$(cd "$1" && pwd)
: "${DATABASE_URL:?DATABASE_URL must name the empty database to restore into}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}

# 1. The manifest: every file listed matches, and every file is listed.
if [ ! -f "$source_dir/MANIFEST.sha256" ] || [ ! -f "$source_dir/database.dump" ]; then
  echo "restore.sh: $source_dir is not a backup (no MANIFEST.sha256 or database.dump)" >&2
  exit 1
fi
if ! (cd "$source_dir" && sha256sum --check --strict --quiet MANIFEST.sha256); then
  echo "restore.sh: $source_dir does not match its manifest: refusing to restore" >&2
  exit 1
fi
unlisted=$(cd "$source_dir" && LC_ALL=C comm -23 \
  <(find . -type f ! -name MANIFEST.sha256 -print | LC_ALL=C sort) \
  <(cut -c67- MANIFEST.sha256 | LC_ALL=C sort))
if [ -n "$unlisted" ]; then
  echo "restore.sh: files not in the manifest: $unlisted" >&2
  exit 1
fi

# The files must have somewhere to go before the database is touched: a restore that failed
# after pg_restore had committed could not simply be run again (the database is no longer empty).
if [ -d "$source_dir/objects" ] && [ -z "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
  echo "restore.sh: the backup's files are objects: set AWS_STORAGE_BUCKET_NAME (and the other AWS_* variables) to the buckets to restore them into" >&2
  exit 1
fi
if [ -d "$source_dir/files" ] && [ -n "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
  echo "restore.sh: the backup's files are from a local filesystem, but AWS_STORAGE_BUCKET_NAME names a bucket: unset it to restore them into MEDIA_ROOT and PRIVATE_ROOT" >&2
  exit 1
fi

# 2. An empty database only: a restore never mixes with data already there.
tables=$(psql --no-psqlrc --quiet --tuples-only --no-align --dbname="$DATABASE_URL" --command \
  "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'")
if [ "$tables" != "0" ]; then
  echo "restore.sh: the database of DATABASE_URL has $tables tables: restore into an empty one" >&2
  exit 1
fi

# ...and empty buckets or folders for the files: the script adds objects, it never deletes any.
if [ -d "$source_dir/objects" ]; then
  "$python" "$here/object_backup.py" check "$source_dir/objects"
elif [ -d "$source_dir/files" ]; then
  var_dir=${HANDOFF_VAR_DIR:-$here/../var}
  for root in "${MEDIA_ROOT:-$var_dir/media}" "${PRIVATE_ROOT:-$var_dir/private}"; do
    if [ -d "$root" ] && [ -n "$(find "$root" -mindepth 1 -print -quit)" ]; then
      echo "restore.sh: $root is not empty: restore the files into empty folders (MEDIA_ROOT, PRIVATE_ROOT)" >&2
      exit 1
    fi
  done
fi

# 3. The database.
# shellcheck disable=SC2086  # PG_RESTORE_OPTIONS is a list of options
pg_restore --no-owner --exit-on-error --single-transaction ${PG_RESTORE_OPTIONS:-} \
  --dbname="$DATABASE_URL" "$source_dir/database.dump"

# 4. The files.
if [ -d "$source_dir/objects" ]; then
  "$python" "$here/object_backup.py" restore "$source_dir/objects"
elif [ -d "$source_dir/files" ]; then
  var_dir=${HANDOFF_VAR_DIR:-$here/../var}
  for part in media private; do
    if [ "$part" = media ]; then root=${MEDIA_ROOT:-$var_dir/media}; else root=${PRIVATE_ROOT:-$var_dir/private}; fi
    mkdir -p "$root"
    tar --extract --file="$source_dir/files/$part.tar" --directory="$root" --no-same-owner
  done
fi
echo "restored $source_dir"
