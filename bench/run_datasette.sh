#!/usr/bin/env bash
# Runs Datasette beside Marquee (bench/datasette/peer.py) in a private virtualenv under
# target/bench-venv-datasette (never the system Python's packages), installing Datasette and
# psycopg2-binary there on first use. The SQLite copy of the collection is kept under
# target/bench-datasette/. Arguments are passed through to peer.py; the script of changes is
# read from stdin and one JSON object is printed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="${MARQUEE_DATASETTE_VENV:-$root/target/bench-venv-datasette}"
# shellcheck source=bench/venv.sh
. "$here/venv.sh"
ensure_venv "$venv" "datasette, psycopg2" 'datasette==0.65.5' 'psycopg2-binary>=2.9,<3'
exec "$venv/bin/python" "$here/datasette/peer.py" "$@"
