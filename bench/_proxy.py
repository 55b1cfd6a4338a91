"""A loopback TCP proxy that can refuse connections, to cut Spanner off for a moment."""

from __future__ import annotations

import contextlib
import socket
import threading

from spanner_pools.emulator import free_port


class RefusingProxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:target_port; ``refuse()`` closes the listening
    socket and every open connection (new connections get ECONNREFUSED, as when a server is
    down), ``accept()`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.accept()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def accept(self) -> None:
        """Listen (again) on ``port``."""
        with self._lock:
            if self._server is not None:
                return
            server = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on POSIX
            self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def refuse(self) -> None:
        """Stop listening and cut every connection."""
        with self._lock:
            server, self._server = self._server, None
            sockets, self._sockets = self._sockets, []
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            server.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    close = refuse

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed by refuse()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the emulator is down: the client sees the connection drop
                continue
            with self._lock:
                if self._server is not server:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
