"""The demo runner: emulator, schema and the notes site under gunicorn, in one command.

``python -m example_site.run [--django] [--port 8000]`` starts the Cloud Spanner emulator
(or uses the one at ``SPANNER_EMULATOR_HOST``), creates the instance, database and schema,
serves the Flask (or Django) site under gunicorn with several workers and prints the URL.
Ctrl-C (SIGINT) or SIGTERM stops everything it started and exits with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from spanner_pools import POOL_MODES, ConfigurationError, SpannerSettings
from spanner_pools.emulator import Emulator, EmulatorNotFound, provision

from .config import spanner_settings_from_env
from .schema import SCHEMA

logger = logging.getLogger("example_site.run")

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = Path(__file__).resolve().parent / "gunicorn.conf.py"
FLASK_APP = "example_site.flask_site:create_app()"
DJANGO_APP = "example_site.django_site.wsgi:application"


def start_emulator(*, log_requests: bool = False) -> Emulator:
    """Start an emulator on a free port (``Emulator.start`` checks the process is ours)."""
    try:
        return Emulator(log_requests=log_requests).start()
    except RuntimeError as exc:
        raise DemoError(f"the Spanner emulator did not start: {exc}") from exc


class DemoError(Exception):
    """Something the user can fix; printed without a traceback, exit status 2."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m example_site.run",
        description="Run the spanner-pools notes site against the Cloud Spanner emulator.",
    )
    parser.add_argument("--django", action="store_true", help="serve the Django site")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (8000)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument("--pool", choices=POOL_MODES, help="SPANNER_POOL for the site")
    parser.add_argument("--pool-size", type=int, help="SPANNER_POOL_SIZE for the site")
    parser.add_argument("--ping-interval", type=float, help="SPANNER_PING_INTERVAL (seconds)")
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="start the emulator with --log_requests and print the log's path",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port: expected 1 to 65535, got {args.port}")
    if args.workers < 1:
        parser.error(f"--workers: expected at least 1, got {args.workers}")
    return args


class Demo:
    """Owns what it starts (emulator, gunicorn) and stops it on a signal or an error."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stopping = threading.Event()
        self.emulator: Emulator | None = None
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.signal_name: str | None = None

    # -- signals ----------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    # -- steps ------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The environment of the site: the caller's, plus the demo's Spanner settings."""
        env = dict(os.environ)
        if self.args.pool:
            env["SPANNER_POOL"] = self.args.pool
        if self.args.pool_size is not None:
            env["SPANNER_POOL_SIZE"] = str(self.args.pool_size)
        if self.args.ping_interval is not None:
            env["SPANNER_PING_INTERVAL"] = str(self.args.ping_interval)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        # The demo serves its own Django project, whatever DJANGO_SETTINGS_MODULE the caller
        # has set (a test run, a shell with another project active).
        env["DJANGO_SETTINGS_MODULE"] = "example_site.django_site.settings"
        return env

    def check_port(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.args.host, self.args.port))
            except OSError as exc:
                raise DemoError(
                    f"--port {self.args.port}: cannot bind {self.args.host}:{self.args.port} "
                    f"({exc.strerror}); pass another --port"
                ) from None

    def start_emulator(self, env: dict[str, str]) -> None:
        """Use ``SPANNER_EMULATOR_HOST`` if set, otherwise start an emulator on a free port."""
        if env.get("SPANNER_EMULATOR_HOST"):
            logger.info(
                "using the emulator at SPANNER_EMULATOR_HOST=%s", env["SPANNER_EMULATOR_HOST"]
            )
            return
        try:
            self.emulator = start_emulator(log_requests=self.args.log_requests)
        except EmulatorNotFound as exc:
            raise DemoError(str(exc)) from None
        assert self.emulator.process is not None
        env["SPANNER_EMULATOR_HOST"] = self.emulator.host
        logger.info("Spanner emulator: %s (pid %d)", self.emulator.host, self.emulator.process.pid)
        if self.args.log_requests:
            logger.info("emulator request log: %s", self.emulator.log_path)

    def provision(self, env: dict[str, str]) -> SpannerSettings:
        values = spanner_settings_from_env(env)
        settings = SpannerSettings.from_mapping(values, key_format="SPANNER_{key}", environ=env)
        assert settings.emulator_host is not None and settings.project is not None
        created = provision(
            settings.emulator_host,
            project=settings.project,
            instance=settings.instance,
            database=settings.database,
            ddl=SCHEMA,
            exist_ok=True,  # an emulator the user runs (SPANNER_EMULATOR_HOST) may have it
        )
        logger.info(
            "database projects/%s/instances/%s/databases/%s %s (table notes)",
            settings.project,
            settings.instance,
            settings.database,
            "created" if created else "already there, kept as it is",
        )
        return settings

    def start_gunicorn(self, env: dict[str, str]) -> None:
        app = DJANGO_APP if self.args.django else FLASK_APP
        command = [
            sys.executable, "-m", "gunicorn",
            "-c", str(GUNICORN_CONF),
            "-b", f"{self.args.host}:{self.args.port}",
            "-w", str(self.args.workers),
            app,
        ]  # fmt: skip
        # Own session: a terminal's Ctrl-C reaches only this runner, which stops gunicorn
        # gracefully (SIGTERM) so that every worker deletes its sessions.
        self.gunicorn = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
        logger.info(
            "gunicorn: pid %d, %d workers, app %s", self.gunicorn.pid, self.args.workers, app
        )

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Poll ``/health`` until it answers 200; False if stopped or gunicorn died."""
        url = f"http://{self._url_host()}:{self.args.port}/health"
        deadline = time.monotonic() + timeout
        while not self.stopping.is_set():
            assert self.gunicorn is not None
            if self.gunicorn.poll() is not None:
                raise DemoError(f"gunicorn exited with status {self.gunicorn.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return True
            except urllib.error.HTTPError as exc:
                if exc.code != 503:  # 503: the pool is not open yet; anything else is a bug
                    detail = exc.read().decode(errors="replace")[:2000]
                    raise DemoError(f"{url} answered {exc.code}:\n{detail}") from None
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise DemoError(f"{url} did not answer 200 within {timeout:g}s")
            self.stopping.wait(0.2)
        return False

    def _url_host(self) -> str:
        host = self.args.host
        if host in ("0.0.0.0", ""):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    def announce(self, settings: SpannerSettings) -> None:
        base = f"http://{self._url_host()}:{self.args.port}"
        site = "Django" if self.args.django else "Flask"
        print(
            f"\nThe {site} notes site is up at {base}/ "
            f"({self.args.workers} gunicorn workers, POOL={settings.pool}, "
            f"POOL_SIZE={settings.pool_size}).\n"
            f"Open {base}/ in a browser (the notes, a form, live pool stats), or try:\n"
            f"  curl {base}/health\n"
            f"  curl -X POST -H 'Content-Type: application/json' -d '{{\"body\": \"hello\"}}' {base}/notes\n"
            f'  curl -X POST -H \'Content-Type: application/json\' -d \'{{"bodies": ["a", "b"]}}\' {base}/notes/bulk\n'
            f"  curl {base}/notes\n"
            f"  curl {base}/stats\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )

    def serve(self) -> int:
        """Wait for a signal; if gunicorn dies on its own, report it."""
        while not self.stopping.wait(0.5):
            assert self.gunicorn is not None
            if self.gunicorn.poll() is not None:
                logger.error(
                    "gunicorn exited unexpectedly with status %s", self.gunicorn.returncode
                )
                return 1
        return 0

    # -- shutdown ---------------------------------------------------------------------------

    def stop(self) -> int:
        """Stop gunicorn (graceful), then the emulator; returns gunicorn's exit status."""
        status = 0
        proc, self.gunicorn = self.gunicorn, None
        if proc is not None:
            if proc.poll() is None:
                logger.info("stopping gunicorn (pid %d)", proc.pid)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    logger.warning("gunicorn did not stop within 40s; killing it")
                    proc.kill()
                    proc.wait(10)
            status = proc.returncode or 0
            # Workers left behind by a killed master share its process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        emulator, self.emulator = self.emulator, None
        if emulator is not None:
            logger.info("stopping the Spanner emulator")
            emulator.stop()
            if not self.args.log_requests:
                emulator.log_path.unlink(missing_ok=True)
        return status

    def run(self) -> int:
        """Start everything, serve until a signal, stop everything; the exit status."""
        self.install_signal_handlers()
        try:
            result = self._start_and_serve()
        finally:
            # A second Ctrl-C must not interrupt the cleanup.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            status = self.stop()
        if status:
            logger.warning("gunicorn exited with status %d", status)
            return result or 1
        return result

    def _start_and_serve(self) -> int:
        self.check_port()
        env = self.environment()
        self.start_emulator(env)
        if self.stopping.is_set():
            return 0
        settings = self.provision(env)
        if self.stopping.is_set():
            return 0
        self.start_gunicorn(env)
        if self.wait_ready():
            self.announce(settings)
            failed = self.serve()
            if failed:
                return failed
        logger.info("%s received, shutting down", self.signal_name or "stop")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[demo] %(message)s", stream=sys.stdout)
    try:
        return Demo(args).run()
    except (DemoError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
