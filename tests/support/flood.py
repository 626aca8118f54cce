"""A slowloris-style connection flood against a loopback HTTP server, for the miner's tests and benchmark."""

from __future__ import annotations

import asyncio
import threading
import time


class ConnectionFlood:
    """`idle` connections that never send a byte and `slow` ones that send a header byte a second,
    each reopened whenever the server closes it, on an event loop of its own. `peak` is the most held open at once
    since the flood was up: the server closes a head that has not arrived within its deadline, and the flood's
    connections, opened together, expire and reopen together, so the count at any one instant may be a trough."""

    HEAD = b"POST /ocr HTTP/1.1\r\nHost: miner\r\nContent-Type: application/json\r\n" + b"X-Pad: a\r\n" * 200

    def __init__(self, host: str, port: int, idle: int, slow: int) -> None:
        self.host, self.port, self.wanted = host, port, idle + slow
        self.idle, self.slow = idle, slow
        self.opened = 0
        self.open_now = 0
        self.peak = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def keep_one(self, trickle: bool) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.opened += 1
            self.open_now += 1
            self.peak = max(self.peak, self.open_now)
            try:
                if trickle:
                    for byte in self.HEAD:
                        writer.write(bytes([byte]))
                        await writer.drain()
                        await asyncio.sleep(1.0)
                else:
                    await reader.read()  # until the server closes it
            except OSError:
                pass
            finally:
                self.open_now -= 1
                writer.close()

    async def stop_all(self) -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> ConnectionFlood:
        self.thread.start()
        for trickle, count in ((False, self.idle), (True, self.slow)):
            for _ in range(count):
                asyncio.run_coroutine_threadsafe(self.keep_one(trickle), self.loop)
        deadline = time.monotonic() + 60
        while self.opened < self.wanted:
            assert time.monotonic() < deadline, f"only {self.opened} of {self.wanted} connections opened"
            time.sleep(0.05)
        self.peak = self.open_now  # from here on: what was held while the caller worked
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.stop_all(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
