#!/usr/bin/env bash
# Back up Handoff: the database and every uploaded file, with a checksum manifest.
#
#   DATABASE_URL=postgres://... BACKUP_DIR=/backups deploy/backup.sh
#
# Writes BACKUP_DIR/<UTC timestamp>/:
#   database.dump     pg_dump --format=custom of DATABASE_URL (pg_dump at least the server's major)
#   objects/<bucket>/ every object of AWS_STORAGE_BUCKET_NAME and AWS_PRIVATE_BUCKET_NAME, with
#                     objects/buckets.json (deploy/object_backup.py; boto3), when they are set;
#   files/media.tar   otherwise: MEDIA_ROOT and PRIVATE_ROOT (local disks; the settings' defaults)
#   files/private.tar
#   MANIFEST.sha256   the sha256 of every file above (deploy/restore.sh checks it first)
# and prints the directory. A backup being written is BACKUP_DIR/<timestamp>.partial: a finished
# one never lacks a part. The backup holds client data in clear: encrypt it before it leaves the
# host (deploy/README.md, "Backups").
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL must name the database to back up}"
: "${BACKUP_DIR:?BACKUP_DIR must name the directory backups go to}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}

umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$BACKUP_DIR/$stamp"
work="$target.partial"
if [ -e "$target" ] || [ -e "$work" ]; then
  echo "backup.sh: $target already exists" >&2
  exit 1
fi
mkdir -p "$work"
# Stop, not only clean up: after a signal bash would go on with the next command, and a later
# step recreating the directory would leave a backup without its database dump.
trap 'rm -rf "$work"; exit 1' ERR INT TERM

pg_dump --format=custom --file="$work/database.dump" --dbname="$DATABASE_URL"

if [ -n "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
  "$python" "$here/object_backup.py" backup "$work/objects"
else
  var_dir=${HANDOFF_VAR_DIR:-$here/../var}
  mkdir -p "$work/files"
  for part in media private; do
    if [ "$part" = media ]; then root=${MEDIA_ROOT:-$var_dir/media}; else root=${PRIVATE_ROOT:-$var_dir/private}; fi
    if [ -d "$root" ]; then
      tar --create --file="$work/files/$part.tar" --directory="$root" .
    else
      tar --create --file="$work/files/$part.tar" --files-from=/dev/null
    fi
  done
fi

{
  echo "created=$stamp"
  echo "pg_dump=$(pg_dump --version)"
  if [ -n "${AWS_STORAGE_BUCKET_NAME:-}" ]; then echo "files=objects"; else echo "files=tar"; fi
} >"$work/backup.info"

(cd "$work" && find . -type f ! -name MANIFEST.sha256 -print0 | LC_ALL=C sort -z \
  | xargs -0 -r sha256sum >MANIFEST.sha256)
mv "$work" "$target"
trap - ERR INT TERM
echo "$target"
