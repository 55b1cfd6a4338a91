"""A loopback TCP proxy that can swallow, delay or refuse traffic, as a broken network does."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from spanner_pools.emulator import free_port


class BlackHoleProxy:
    """Forwards 127.0.0.1:port to a target; with ``black_hole = True`` it drops every byte.

    Clients keep their connections and their writes succeed, but nothing comes back, so each
    RPC waits for its deadline. ``restore()`` closes the swallowed connections so clients
    reconnect cleanly. ``delay`` (seconds) holds every chunk back that long; ``refuse()``
    resets every connection until ``accept_again()``. ``accepted`` counts
    the connections made.
    """

    def __init__(self, target_port: int, *, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.black_hole = False
        self.delay = 0.0
        self.refusing = False
        self.accepted = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._running = True
        self._listen()

    def _listen(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def refuse(self) -> None:
        """Drop every connection and reset new ones at once, as a closed port does.

        The port stays bound (a closed and re-opened port could be taken meanwhile as the
        source port of some other connection), so each connect fails with a reset instead.
        """
        self.refusing = True
        self._drop_connections()

    def accept_again(self) -> None:
        """Forward new connections again after :meth:`refuse`."""
        self.refusing = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._running:
                client.close()
                return
            self.accepted += 1
            if self.refusing:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # an RST, like a refused connection
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                if not self.black_hole:
                    dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _drop_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        """Stop swallowing; connections that lost bytes are closed so clients reconnect."""
        self.black_hole = False
        self._drop_connections()

    def close(self) -> None:
        self._running = False
        self._server.close()
        self._drop_connections()
