#!/usr/bin/env bash
# Runs the Python reproduction of the original design (bench/original/movies_service.py) in a
# private virtualenv under target/bench-venv (never the system Python's packages), installing
# psycopg2-binary there on first use. Arguments are passed through:
#   bench/run_original.sh --host /var/lib/marquee/run --port 5433 --dbname bench_86537 --user marquee
# Prints one JSON line: {"movies": N, "samples_ms": [...], "startup_ms": x, "peak_rss_kib": k}.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="${MARQUEE_BENCH_VENV:-$root/target/bench-venv}"
# shellcheck source=bench/venv.sh
. "$here/venv.sh"
ensure_venv "$venv" psycopg2 'psycopg2-binary>=2.9,<3'
exec "$venv/bin/python" "$here/original/movies_service.py" "$@"
