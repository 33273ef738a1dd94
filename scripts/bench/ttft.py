#!/usr/bin/env python3
"""Streaming time-to-first-token probe (stdlib only).

Sends `POST /v1/chat/completions` with `"stream": true` over raw keep-alive
HTTP/1.1 connections and records, per request, the time from sending the
request to the first SSE `data:` event whose `choices[].delta.content` is
non-empty. The rest of the stream is read to the end (so the connection can
be reused) but not timed.

Two modes:

  --concurrency-1 N   closed loop: one connection, N sequential requests.
  --rate R --duration S
                      open loop: a request is started every 1/R s whatever is
                      still running (idle keep-alive connections are reused,
                      new ones opened when none is idle). Each request gets two
                      latencies: from its *scheduled* start (corrected for the
                      probe's own lag, like oha's latency correction) and from
                      the moment it was actually written to the socket.

Prints one JSON object: {"n", "errors", "p50_ms", "p99_ms", ...}.
"""

import argparse
import asyncio
import json
import math
import socket
import statistics
import sys
import time
from urllib.parse import urlsplit


class ResponseParser:
    """Sans-IO parser for one HTTP/1.1 response carrying an SSE body.

    feed() bytes; `first_content` becomes True at the first content-bearing
    SSE event; `done` when the response (chunked or Content-Length) ended.
    """

    def __init__(self):
        self.buf = b""
        self.head_done = False
        self.status = 0
        self.chunked = False
        self.remaining = None  # Content-Length left, when not chunked
        self.chunk_left = 0  # bytes left in the current chunk (+2 for CRLF handled separately)
        self.sse = b""
        self.first_content = False
        self.done = False
        self.error = None

    def feed(self, data: bytes) -> None:
        self.buf += data
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            self.buf = self.buf[end + 4 :]
            self.head_done = True
            parts = head[0].split(" ", 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                value = value.strip()
                if name == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
                elif name == "content-length":
                    self.remaining = int(value)
            if not self.chunked and self.remaining is None:
                self.error = "response has neither chunked encoding nor Content-Length"
                self.done = True
                return
        if self.chunked:
            self._dechunk()
        else:
            take = self.buf[: self.remaining]
            self.buf = self.buf[len(take) :]
            self.remaining -= len(take)
            self._body(take)
            if self.remaining == 0:
                self.done = True

    def _dechunk(self) -> None:
        while not self.done:
            if self.chunk_left > 0:
                if not self.buf:
                    return
                take = self.buf[: self.chunk_left]
                self.buf = self.buf[len(take) :]
                self.chunk_left -= len(take)
                self._body(take)
                if self.chunk_left == 0:
                    self.chunk_left = -1  # expect CRLF after the chunk data
                continue
            if self.chunk_left == -1:
                if len(self.buf) < 2:
                    return
                self.buf = self.buf[2:]
                self.chunk_left = 0
                continue
            line_end = self.buf.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self.buf[:line_end].split(b";")[0], 16)
            self.buf = self.buf[line_end + 2 :]
            if size == 0:
                # Last chunk; trailers are not used by the servers measured here.
                self.done = True
                return
            self.chunk_left = size

    def _body(self, data: bytes) -> None:
        if self.status != 200:
            if self.error is None:
                self.error = f"HTTP {self.status}"
            return
        if self.first_content:
            return
        self.sse += data.replace(b"\r\n", b"\n")
        while True:
            end = self.sse.find(b"\n\n")
            if end < 0:
                return
            event, self.sse = self.sse[:end], self.sse[end + 2 :]
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    continue
                try:
                    obj = json.loads(payload)
                except ValueError:
                    self.error = "non-JSON SSE data"
                    continue
                if "error" in obj:
                    self.error = "error event"
                for choice in obj.get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        self.first_content = True
                        return


def build_request(url: str, key: str, model: str, prompt: str) -> bytes:
    u = urlsplit(url)
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 16,
        }
    ).encode()
    head = (
        f"POST {u.path} HTTP/1.1\r\n"
        f"Host: {u.netloc}\r\n"
        f"Authorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def percentiles(values_ns):
    if not values_ns:
        return {"p50_ms": None, "p99_ms": None, "mean_ms": None}
    s = sorted(values_ns)

    def pct(p):
        # nearest-rank
        i = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
        return s[i] / 1e6

    return {"p50_ms": pct(50), "p99_ms": pct(99), "mean_ms": statistics.fmean(s) / 1e6}


def closed_loop(url: str, req: bytes, n: int, warmup: int) -> dict:
    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat, errors = [], 0
    for i in range(warmup + n):
        p = ResponseParser()
        t0 = time.perf_counter_ns()
        sock.sendall(req)
        ttft = None
        while not p.done:
            data = sock.recv(65536)
            if not data:
                raise SystemExit("server closed the connection")
            p.feed(data)
            if ttft is None and p.first_content:
                ttft = time.perf_counter_ns() - t0
        if i < warmup:
            continue
        if p.error or ttft is None:
            errors += 1
        else:
            lat.append(ttft)
    sock.close()
    return {"mode": "concurrency-1", "n": len(lat), "errors": errors, **percentiles(lat)}


async def open_loop(url: str, req: bytes, rate: float, duration: float, warmup_s: float) -> dict:
    u = urlsplit(url)
    idle = []
    sched_lat, send_lat = [], []
    errors = 0
    max_conns = 0
    conns = 0

    async def one(scheduled_ns: int, record: bool):
        nonlocal errors, conns, max_conns
        if idle:
            reader, writer = idle.pop()
        else:
            reader, writer = await asyncio.open_connection(u.hostname, u.port)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns += 1
            max_conns = max(max_conns, conns)
        p = ResponseParser()
        sent = time.perf_counter_ns()
        writer.write(req)
        ttft = None
        try:
            while not p.done:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                p.feed(data)
                if ttft is None and p.first_content:
                    ttft = time.perf_counter_ns()
        except (ConnectionError, OSError):
            errors += record
            writer.close()
            conns -= 1
            return
        idle.append((reader, writer))
        if not record:
            return
        if p.error or ttft is None:
            errors += 1
        else:
            sched_lat.append(ttft - scheduled_ns)
            send_lat.append(ttft - sent)

    interval_ns = int(1e9 / rate)
    total = int((warmup_s + duration) * rate)
    warm = int(warmup_s * rate)
    tasks = []
    start = time.perf_counter_ns() + 10_000_000
    for i in range(total):
        scheduled = start + i * interval_ns
        delay = (scheduled - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, i >= warm)))
    await asyncio.gather(*tasks)
    for _, w in idle:
        w.close()
    corrected = percentiles(sched_lat)
    return {
        "mode": "rate",
        "rate": rate,
        "n": len(send_lat),
        "errors": errors,
        "max_connections": max_conns,
        # Primary numbers: from the scheduled start (latency-corrected).
        **corrected,
        "from_send": percentiles(send_lat),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="http://HOST:PORT/v1/chat/completions")
    ap.add_argument("--key", default="x")
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", default="Hello")
    ap.add_argument("--concurrency-1", type=int, metavar="N", dest="n")
    ap.add_argument("--rate", type=float)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=1.0, help="requests (closed loop) or seconds (open loop)")
    a = ap.parse_args()
    req = build_request(a.url, a.key, a.model, a.prompt)
    if a.n:
        out = closed_loop(a.url, req, a.n, int(a.warmup))
    elif a.rate:
        out = asyncio.run(open_loop(a.url, req, a.rate, a.duration, a.warmup))
    else:
        ap.error("give --concurrency-1 N or --rate R")
    json.dump(out, sys.stdout)
    print()
    if out["errors"]:
        print(f"ttft.py: {out['errors']} failed requests", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
