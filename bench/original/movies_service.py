"""A faithful small reproduction of Marquee's predecessor: a Python service with a
"centralized database connection pool" (see /work/shared/DESIGN.md, section 1).

- ``DatabasePool``: a process-wide singleton around psycopg2's ``SimpleConnectionPool(2, 10)``,
  created at startup, closed at shutdown, with the original's log lines.
- ``MoviesRepository.load_all``: the startup load, every movie into memory through a
  ``RealDictCursor`` (one dict per row), connection returned in ``finally``.

Run as a script it is the peer in ``marquee bench load-all --with-original``: it loads the
movies ``--repeats`` times after one warm-up and prints one JSON line with the timings, so the
Rust side can compare on the same rows in the same run. Logs go to stderr.
"""

import argparse
import json
import logging
import os
import sys
import time

import psycopg2
from psycopg2 import pool
from psycopg2.extras import RealDictCursor

logger = logging.getLogger("movies_service")


class DatabasePool:
    """The one connection pool of the application (a singleton, as in the original)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance._pool = None
        return cls._instance

    def initialize(
        self,
        host="localhost",
        port=5432,
        database="postgres",
        user="postgres",
        password=None,
        minconn=2,
        maxconn=10,
    ):
        if self._pool is not None:
            return
        self._pool = pool.SimpleConnectionPool(
            minconn,
            maxconn,
            host=host,
            port=port,
            dbname=database,
            user=user,
            password=password,
        )
        logger.info(
            "Initialized database connection pool (%d-%d connections)", minconn, maxconn
        )

    def is_initialized(self):
        return self._pool is not None

    def get_connection(self):
        if self._pool is None:
            raise RuntimeError("DatabasePool not initialized")
        try:
            return self._pool.getconn()
        except pool.PoolError as exc:
            raise RuntimeError("No connections available") from exc

    def return_connection(self, conn):
        if self._pool is not None:
            self._pool.putconn(conn)

    def close(self):
        if self._pool is not None:
            self._pool.closeall()
            self._pool = None
            logger.info("Closed database connection pool")


class MoviesRepository:
    """Movies, loaded whole at startup. Shares the pool, never manages it."""

    def __init__(self, db_pool):
        self.db_pool = db_pool

    def load_all(self):
        conn = self.db_pool.get_connection()
        try:
            with conn.cursor(cursor_factory=RealDictCursor) as cur:
                cur.execute(
                    "SELECT id, title, year, genres, rating_avg, rating_count"
                    " FROM movies ORDER BY id"
                )
                movies = cur.fetchall()
            conn.rollback()  # end the implicit transaction before the connection goes back
            logger.info("Loaded %d movies", len(movies))
            return movies
        finally:
            self.db_pool.return_connection(conn)


def peak_rss_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv=None):
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env.get("PGHOST", "localhost"))
    parser.add_argument("--port", type=int, default=int(env.get("PGPORT", "5432")))
    parser.add_argument("--dbname", default=env.get("PGDATABASE", "postgres"))
    parser.add_argument("--user", default=env.get("PGUSER", "postgres"))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )

    started = time.perf_counter()
    db_pool = DatabasePool()
    db_pool.initialize(
        host=args.host,
        port=args.port,
        database=args.dbname,
        user=args.user,
        password=env.get("PGPASSWORD"),
    )
    movies = MoviesRepository(db_pool)
    count = len(movies.load_all())  # warm-up, and the original's startup
    startup_ms = (time.perf_counter() - started) * 1000.0
    samples_ms = []
    for _ in range(max(args.repeats, 1)):
        t0 = time.perf_counter()
        rows = movies.load_all()
        samples_ms.append((time.perf_counter() - t0) * 1000.0)
        if len(rows) != count:
            raise RuntimeError("load_all returned a different count")
        del rows
    db_pool.close()
    print(
        json.dumps(
            {
                "impl": "python-psycopg2-" + psycopg2.__version__.split()[0],
                "movies": count,
                "startup_ms": startup_ms,
                "samples_ms": samples_ms,
                "peak_rss_kib": peak_rss_kib(),
            }
        )
    )


if __name__ == "__main__":
    main()
