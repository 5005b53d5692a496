"""What bench/flash_sale.py measures around its runs: the API processes it starts, their
and PostgreSQL's CPU time from /proc, statement counters from /metrics, and pgbench."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def admin_url(url: str, database: str) -> str:
    """``url`` pointing at another database of the same server."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{database}").geturl()


def recreate_database(url: str, name: str) -> None:
    """Drop and create ``name`` on the server of ``url`` (via psql: no transaction)."""
    admin = admin_url(url, "postgres")
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", "-q", admin, "-c", sql], check=True, capture_output=True)


def migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [str(ROOT / ".venv/bin/ticketing"), "migrate"], env=env, check=True, capture_output=True
    )


def start_servers(url: str, count: int, first_port: int, redis_url: str, pool: int) -> list:
    """``count`` single-worker ``ticketing serve`` processes, one port each, rate limit off,
    ``pool`` connections each (half as many again on overflow)."""
    env = {
        **os.environ,
        "TICKETING_DB_POOL_SIZE": str(pool),
        "TICKETING_DB_MAX_OVERFLOW": str(pool // 2),
        "DATABASE_URL": url,
        "TICKETING_RATE_LIMIT_REQUESTS": "0",
        "TICKETING_MIGRATE_ON_STARTUP": "false",
        "TICKETING_DATA_DIR": str(Path(tempfile.gettempdir()) / "ticketing-flash-bench"),
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    servers = []
    for index in range(count):
        port = first_port + index
        log = open(Path(tempfile.gettempdir()) / f"ticketing-flash-bench-{port}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/ticketing"), "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        servers.append((process, f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + 90
    for process, base in servers:
        while True:
            if process.poll() is not None:
                stop_servers(servers)
                raise SystemExit(f"server {base} exited with {process.returncode} (see its log)")
            try:
                if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                stop_servers(servers)
                raise SystemExit(f"server {base} did not come up within 90 s")
            time.sleep(0.3)
    return servers


def stop_servers(servers: list) -> None:
    for process, _ in servers:
        if process.poll() is None:
            process.terminate()
    for process, _ in servers:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds incl. reaped children) of one process, None once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), sum(int(value) for value in fields[11:15]) / TICK


def _processes() -> dict[int, tuple[int, float]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds of ``roots`` and all their descendants."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of ``pids`` still running."""
    return {pid: stat[1] for pid in pids if (stat := _stat(pid)) is not None}


def postgres_roots() -> list[int]:
    """Every ``postgres`` process without a ``postgres`` parent (the postmasters): their
    trees include the backends, and a postmaster's reaped children count in its own time."""
    table = _processes()
    names = {}
    for pid in table:
        try:
            names[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
    return [
        pid
        for pid, (parent, _) in table.items()
        if names.get(pid) == "postgres" and names.get(parent) != "postgres"
    ]


def listening_pids(port: int) -> list[int]:
    """Processes holding the listening socket of a TCP ``port`` (from /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = {
                os.readlink(f"/proc/{entry}/fd/{fd}") for fd in os.listdir(f"/proc/{entry}/fd")
            }
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            pids.append(int(entry))
    return pids


def statements(bases: list[str]) -> float:
    """Sum of ``ticketing_db_statements_total`` over the processes behind ``bases``."""
    total = 0.0
    for base in bases:
        text = httpx.get(f"{base}/metrics", timeout=10).text
        found = re.search(r"^ticketing_db_statements_total (\S+)$", text, re.MULTILINE)
        if found is None:
            print(f"warning: {base}/metrics has no ticketing_db_statements_total", file=sys.stderr)
            continue
        total += float(found.group(1))
    return total


PGBENCH_SCHEMA = """
DROP TABLE IF EXISTS flash_hold, flash_counter;
CREATE TABLE flash_counter (id int PRIMARY KEY, capacity int NOT NULL, sold int NOT NULL);
CREATE TABLE flash_hold (
  id bigserial PRIMARY KEY, counter_id int NOT NULL, token bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO flash_counter VALUES (1, 2000000000, 0);
"""

PGBENCH_SCRIPT = """\\set token random(1, 1000000000)
BEGIN;
UPDATE flash_counter SET sold = sold + 1 WHERE id = 1 AND sold < capacity;
INSERT INTO flash_hold (counter_id, token) VALUES (1, :token);
END;
"""


def free_connections(url: str) -> int:
    """Connections PostgreSQL still accepts (max_connections less those open and those
    reserved for superusers, less a margin for whoever else uses the server)."""
    query = (
        "SELECT current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int"
        " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    )
    done = subprocess.run(["psql", "-tAq", url, "-c", query], check=True, capture_output=True)
    return int(done.stdout) - 10


def pgbench(url: str, clients: int, seconds: int) -> tuple[float | None, int]:
    """(tps, clients) of the bare hot-row write (conditional counter UPDATE + hold INSERT),
    with fewer clients than asked if the server has no more connections to spare."""
    clients = min(clients, free_connections(url))
    if clients < 1:
        return None, 0
    subprocess.run(["psql", "-q", url, "-c", PGBENCH_SCHEMA], check=True, capture_output=True)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(PGBENCH_SCRIPT)
    try:
        done = subprocess.run(
            ["pgbench", "-n", "-f", handle.name, "-c", str(clients), "-j", "2"]
            + ["-T", str(seconds), url],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(handle.name)
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if done.returncode or found is None:
        print(f"warning: pgbench failed:\n{done.stdout}\n{done.stderr}", file=sys.stderr)
        return None, clients
    return float(found.group(1)), clients
