"""Datasette beside Marquee: the same generated collection in SQLite, served by Datasette, driven
through the same script of filter changes that `marquee bench filter` runs.

Run by `marquee bench filter --with-datasette` through bench/run_datasette.sh (a private venv).
The script of changes arrives as JSON on stdin; one JSON object with every sample goes to stdout.

Each change is timed the way Marquee's is: from the change to its first page, then the count and
the facets are asked for together once the page is there, and each is timed from the change.
Datasette's own time limits are raised so that no facet or count is silently dropped (at the
stock 200 ms facet limit Datasette omits the genre facet at 86,537 movies); a timed-out facet
fails the run instead of making Datasette look fast.
"""

import argparse
import concurrent.futures
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import psycopg2


def log(message):
    print(message, file=sys.stderr, flush=True)


def build_sqlite(pg_dsn, path, mark):
    """Copies the movies into SQLite as a Datasette user would set it up: genres as a JSON array,
    the decade and half-star bucket as columns for faceting, indexes on the sorted and filtered
    columns, and FTS5 on the title. Reused while its mark matches the PostgreSQL collection's."""
    if os.path.exists(path):
        try:
            with sqlite3.connect(path) as db:
                found = db.execute("SELECT value FROM peer_ready").fetchone()
            if found and found[0] == mark:
                return
        except sqlite3.Error:
            pass
        os.remove(path)
    log(f"building {path} from PostgreSQL ({mark})")
    partial = path + ".partial"
    if os.path.exists(partial):
        os.remove(partial)
    db = sqlite3.connect(partial)
    db.executescript(
        """
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        CREATE TABLE movies (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            year INTEGER,
            genres TEXT NOT NULL,
            rating_avg REAL,
            rating_count INTEGER NOT NULL,
            decade INTEGER,
            rating_bucket REAL
        );
        """
    )
    with psycopg2.connect(pg_dsn) as pg:
        with pg.cursor(name="movies") as cur:
            cur.itersize = 50_000
            cur.execute(
                "SELECT id, title, year, genres, rating_avg, rating_count FROM marquee.movies"
            )
            batch = []
            for id_, title, year, genres, avg, count in cur:
                batch.append(
                    (
                        id_,
                        title,
                        year,
                        json.dumps(genres),
                        avg,
                        count,
                        None if year is None else year // 10 * 10,
                        None if avg is None else int(avg * 2) / 2,
                    )
                )
                if len(batch) >= 50_000:
                    db.executemany("INSERT INTO movies VALUES (?,?,?,?,?,?,?,?)", batch)
                    batch.clear()
            db.executemany("INSERT INTO movies VALUES (?,?,?,?,?,?,?,?)", batch)
    db.executescript(
        """
        CREATE INDEX movies_title ON movies (title);
        CREATE INDEX movies_year ON movies (year);
        CREATE INDEX movies_rating_avg ON movies (rating_avg);
        CREATE INDEX movies_rating_count ON movies (rating_count);
        CREATE VIRTUAL TABLE movies_fts USING fts5 (title, content = 'movies', content_rowid = 'id');
        INSERT INTO movies_fts (movies_fts) VALUES ('rebuild');
        ANALYZE;
        CREATE TABLE peer_ready (value TEXT NOT NULL);
        """
    )
    db.execute("INSERT INTO peer_ready VALUES (?)", (mark,))
    db.commit()
    db.close()
    os.replace(partial, path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=600) as response:
        return json.load(response)


def serve(datasette, path):
    port = free_port()
    limit = "600000"
    process = subprocess.Popen(
        [
            datasette,
            "serve",
            path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--setting",
            "sql_time_limit_ms",
            limit,
            "--setting",
            "facet_time_limit_ms",
            limit,
            "--setting",
            "suggest_facets",
            "off",
            "--setting",
            "num_sql_threads",
            "3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            versions = get(base + "/-/versions.json")
            return process, base, versions
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(
                    "datasette did not start: " + process.stderr.read().decode(errors="replace")
                )
            time.sleep(0.1)


def table_url(base, database, params):
    return f"{base}/{database}/movies.json?" + urllib.parse.urlencode(params)


def change(pool, base, database, step, page_size):
    """One change: the page, then the count and the facets together. Milliseconds from the
    change to each answer, and how many rows and movies they held (for the cross-check with
    Marquee)."""
    filters = [tuple(pair) for pair in step["params"]]
    started = time.perf_counter()
    page = get(
        table_url(
            base,
            database,
            filters + [("_size", str(page_size)), ("_nocount", "1"), ("_nofacet", "1")],
        )
    )
    page_ms = (time.perf_counter() - started) * 1000

    def timed(params):
        answer = get(table_url(base, database, filters + params))
        return answer, (time.perf_counter() - started) * 1000

    count_job = pool.submit(timed, [("_size", "0"), ("_nofacet", "1")])
    facet_job = pool.submit(
        timed,
        [
            ("_size", "0"),
            ("_nocount", "1"),
            ("_facet_array", "genres"),
            ("_facet", "decade"),
            ("_facet", "rating_bucket"),
        ],
    )
    counted, count_ms = count_job.result()
    faceted, facets_ms = facet_job.result()
    if faceted.get("facets_timed_out"):
        raise SystemExit(f"{step['name']}: Datasette dropped facets {faceted['facets_timed_out']}")
    results = faceted["facet_results"]
    results = results.get("results", results)  # 1.0 nests them; 0.65 does not
    if len(results) != 3:
        raise SystemExit(f"{step['name']}: Datasette returned facets {sorted(results)}")
    return {
        "name": step["name"],
        "page_ms": page_ms,
        "count_ms": count_ms,
        "facets_ms": facets_ms,
        "rows": len(page["rows"]),
        "count": counted["filtered_table_rows_count"],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-dsn", required=True)
    parser.add_argument("--sqlite", required=True)
    parser.add_argument("--mark", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--page-size", type=int, required=True)
    args = parser.parse_args()
    script = json.load(sys.stdin)

    os.makedirs(os.path.dirname(os.path.abspath(args.sqlite)), exist_ok=True)
    build_sqlite(args.pg_dsn, args.sqlite, args.mark)
    datasette = os.path.join(os.path.dirname(sys.executable), "datasette")
    process, base, versions = serve(datasette, args.sqlite)
    database = os.path.splitext(os.path.basename(args.sqlite))[0]
    samples = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for step in script:  # one warm-up pass, as Marquee has
                change(pool, base, database, step, args.page_size)
            for _ in range(max(args.repeats, 1)):
                for step in script:
                    samples.append(change(pool, base, database, step, args.page_size))
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(
        json.dumps(
            {
                "datasette": versions["datasette"]["version"],
                "sqlite": versions["sqlite"]["version"],
                "samples": samples,
            }
        )
    )


if __name__ == "__main__":
    main()
