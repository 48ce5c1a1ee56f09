#!/bin/sh
# Writes a random password into each secret file of the compose stack that
# does not exist yet (deploy/secrets/*.txt, never committed), readable by the
# owner only. Run once before `docker compose -f deploy/compose.yaml up`.
set -eu
cd "$(dirname "$0")"
umask 077
for name in postgres_password redis_password grafana_admin_password; do
  f=$name.txt
  if [ ! -s "$f" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$f"
    echo "wrote deploy/secrets/$f"
  fi
done
# The same PostgreSQL password in pgpass form, for cdp (PGPASSFILE).
if [ ! -s postgres_pgpass.txt ]; then
  printf 'postgres:5432:cdp:cdp:%s\n' "$(cat postgres_password.txt)" > postgres_pgpass.txt
  echo "wrote deploy/secrets/postgres_pgpass.txt"
fi
