"""Real processes and servers for end-to-end tests: an in-memory SMTP server and a Celery worker.

Used by tests marked `worker`; nothing here runs in the other tests.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it returns something truthy or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --- SMTP -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


class _CollectingHandler:
    def __init__(self, hold_at: int | None = None) -> None:
        self.lock = threading.Lock()
        self.messages: list[ReceivedMail] = []
        # The server keeps message number `hold_at` and does not confirm it until released: a
        # sender killed meanwhile is the hard case, delivered without ever hearing so.
        self.hold_at = hold_at
        self.released = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(
                ReceivedMail(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(r.lower() for r in envelope.rcpt_tos),
                    message=parsed,
                )
            )
            held = len(self.messages) == self.hold_at
        while held and not self.released.is_set():
            await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it receives in memory."""

    def __init__(self, hold_at: int | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _CollectingHandler(hold_at)
        self._controller = Controller(self._handler, hostname=self.host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self.release()
        self._controller.stop()

    def release(self) -> None:
        """Let a held message be confirmed (see `hold_at`)."""
        self._handler.released.set()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.messages)


@contextmanager
def smtp_sink(hold_at: int | None = None) -> Iterator[SmtpSink]:
    sink = SmtpSink(hold_at)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


# --- Celery worker --------------------------------------------------------------------------------


def worker_database_url() -> str:
    """A DATABASE_URL naming the database this test process uses *now* (the test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = Path(db["NAME"]).resolve()
        if str(db["NAME"]) == ":memory:" or "mode=memory" in str(db["NAME"]):
            raise RuntimeError("A worker process cannot share an in-memory SQLite database")
        return f"sqlite:///{path}"  # absolute path -> sqlite:////abs/path
    configured = os.environ.get("DATABASE_URL")
    if configured:
        parts = urlsplit(configured)
        return urlunsplit(parts._replace(path="/" + quote(db["NAME"])))
    raise RuntimeError(f"Cannot build a DATABASE_URL for engine {db['ENGINE']}")


_TASK_DONE = re.compile(
    r"Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\] "
    r"(?:(?P<ok>succeeded) in [\d.e-]+s: (?P<result>.*)|(?P<error>raised unexpected): (?P<exc>.*))"
)


@dataclass(frozen=True)
class TaskOutcome:
    name: str
    id: str
    ok: bool
    result: str  # the repr of the return value, or the exception


class CeleryWorker:
    """A `celery -A portal worker` subprocess with its own log file."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2) -> None:
        self.env = env
        self.log_path = log_path
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def start(self, ready_timeout: float = 60) -> None:
        self._log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                self.name,
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its pool children can be stopped as one group
        )
        if not wait_until(self._ready_or_dead, ready_timeout):
            raise RuntimeError(f"Celery worker not ready after {ready_timeout}s")
        if self.proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited with status {self.proc.returncode}")

    def _ready_or_dead(self) -> bool:
        return self.proc.poll() is not None or re.search(r"\S+@\S+ ready\.", self.log()) is not None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def outcomes(self, task_name: str | None = None) -> list[TaskOutcome]:
        found = []
        for match in _TASK_DONE.finditer(self.log()):
            if task_name and match["name"] != task_name:
                continue
            found.append(
                TaskOutcome(
                    name=match["name"],
                    id=match["id"],
                    ok=bool(match["ok"]),
                    result=(match["result"] if match["ok"] else match["exc"]).strip(),
                )
            )
        return found

    def stop(self, timeout: float = 15) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL to the worker's process group if it lingers."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc is not None:
            # Pool children left behind by a killed parent share its process group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path, **kwargs) -> Iterator[CeleryWorker]:
    """Start a worker; on any error print its log; always stop it."""
    worker = CeleryWorker(env, log_path, **kwargs)
    try:
        worker.start()
        yield worker
    except BaseException:
        sys.stdout.write(f"\n----- celery worker log ({log_path}) -----\n{worker.log()}\n")
        raise
    finally:
        worker.stop()


@contextmanager
def celery_beat(env: dict[str, str], workdir: Path, name: str) -> Iterator[subprocess.Popen]:
    """A `celery -A portal beat` process with its own schedule file; always stopped."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel=INFO",
                "-s",
                str(workdir / f"{name}-schedule"),
                "--pidfile=",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


# --- DNS ------------------------------------------------------------------------------------------


class DnsServer:
    """A DNS server on 127.0.0.1 (UDP) answering TXT questions from a dict it can be changed
    through: `records[name] = [text, ...]`. Unknown names get NXDOMAIN."""

    def __init__(self) -> None:
        from dnslib import QTYPE, RCODE, RR, TXT
        from dnslib.server import BaseResolver, DNSServer

        self.records: dict[str, list[str]] = {}
        self.port = free_port()
        records = self.records

        class Resolver(BaseResolver):
            def resolve(self, request, handler):
                reply = request.reply()
                name = str(request.q.qname).rstrip(".").lower()
                texts = records.get(name)
                if texts is None:
                    reply.header.rcode = RCODE.NXDOMAIN
                elif request.q.qtype == QTYPE.TXT:
                    for text in texts:
                        reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(text), ttl=1))
                return reply

        self._server = DNSServer(Resolver(), address="127.0.0.1", port=self.port, logger=_Quiet())

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        self._server.stop()


class _Quiet:
    def __getattr__(self, name):  # dnslib's DNSLogger hooks: log_request, log_reply, ...
        return lambda *args, **kwargs: None


@contextmanager
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
