"""A small TCP proxy on loopback that can stall: connections are accepted, nothing is answered.

    with StallProxy("127.0.0.1", 5432) as proxy:   # listens on proxy.port (port 0: any free one)
        proxy.stall()    # the database looks hung: bytes are held, new connections get no upstream
        proxy.resume()   # held bytes flow again, new connections reach the database
"""

from __future__ import annotations

import contextlib
import socket
import threading


class StallProxy:
    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="stall-proxy", daemon=True)

    def __enter__(self) -> StallProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._flowing.set()
        self._server.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.close()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def _track(self, s: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(s)
        return s

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(self._track(client),), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._flowing.wait()  # a connection made while stalled: accepted, but it reaches nothing yet
        if self._stopping.is_set():
            return
        try:
            upstream = self._track(socket.create_connection(self.upstream, timeout=5))
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # stalled: hold the bytes
                if self._stopping.is_set():
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
