"""A peer's memory under hostile load stays bounded, and it keeps answering queries.

Starts `convex peer start` (default limits, README "Limits") as its own process and
samples its resident memory (VmRSS) and thread count every 50 ms while:

1. 1000 slow REST connections: each sends the first bytes of a request, then one more byte
   a second (slowloris), and connects again as soon as the peer closes it;
2. 20 peer-protocol connections each announcing a 50 MB frame and sending 40 MB of it as
   fast as the peer takes it, never finishing (800 MB claimed in all);
3. both at once.

Meanwhile a client sends a REST query (POST /api/v1/query) and a peer-protocol QUERY every
0.25 s on fresh connections, each with a 10 s timeout, and counts the answers. Reports the
RSS before, its peak in each phase, the peer's threads, what the load clients were told,
and the query latencies. The bound comes from REST_MAX_CONNECTIONS (256 connections),
REST_TIMEOUT and the shared FRAME_BUDGET (100 MB of frames being received).

Run: python benchmarks/peer_limits.py [--seconds 20]
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MB = 1 << 20


def start_peer() -> tuple:
    cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--port", "0",
           "--protocol-port", "0", "--json"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    info = json.loads(p.stdout.readline())
    threading.Thread(target=lambda: p.stderr.read(), daemon=True).start()  # its log lines
    return p, info


def proc_status(pid: int) -> tuple:
    """(RSS in bytes, threads) of process pid."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


class Sampler(threading.Thread):
    """Peak RSS and threads of a process, sampled every 50 ms, per named phase."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.phase, self.peaks, self.done = pid, "idle", {}, False

    def run(self) -> None:
        while not self.done:
            try:
                rss, th = proc_status(self.pid)
            except OSError:
                return
            r, t = self.peaks.get(self.phase, (0, 0))
            self.peaks[self.phase] = (max(r, rss), max(t, th))
            time.sleep(0.05)


class Prober(threading.Thread):
    """A REST query and a peer-protocol QUERY every 0.25 s: latencies and failures."""

    def __init__(self, url: str, proto: tuple):
        super().__init__(daemon=True)
        self.url, self.proto, self.phase, self.done = url, proto, "idle", False
        self.stats: dict = {}

    def record(self, kind: str, dt: float | None, why: str = "wrong answer") -> None:
        s = self.stats.setdefault((self.phase, kind), {"ok": [], "failed": 0, "why": {}})
        if dt is None:
            s["failed"] += 1
            s["why"][why] = s["why"].get(why, 0) + 1
        else:
            s["ok"].append(dt)

    def run(self) -> None:
        from convex_repl.peer.protocol import decode_message, encode_message, frame
        from kernel.data.scalars import Keyword
        from kernel.data.vectors import Vector
        from lisp import read
        q = frame(encode_message(Vector.of(Keyword("Q"), 1, read("(+ 1 2)"))))
        while not self.done:
            t = time.perf_counter()
            try:
                req = urllib.request.Request(self.url + "/api/v1/query", method="POST",
                                             data=b'{"source": "(+ 1 2)"}')
                with urllib.request.urlopen(req, timeout=10) as r:
                    ok = json.loads(r.read()).get("value") == 3
                self.record("REST", time.perf_counter() - t if ok else None)
            except Exception as e:
                self.record("REST", None, f"{type(e).__name__}: {e}"[:80])
            t = time.perf_counter()
            try:
                with socket.create_connection(self.proto, timeout=10) as s:
                    s.sendall(q)
                    data = read_frame(s)
                ok = data is not None and decode_message(data, {}).value == 3
                self.record("protocol", time.perf_counter() - t if ok else None)
            except Exception as e:
                self.record("protocol", None, f"{type(e).__name__}: {e}"[:80])
            time.sleep(0.25)


def read_frame(s: socket.socket) -> bytes | None:
    hdr = b""
    while not hdr or hdr[-1] & 0x80:
        b = s.recv(1)
        if not b:
            return None
        hdr += b
    n = 0
    for b in hdr:
        n = (n << 7) | (b & 0x7F)
    data = b""
    while len(data) < n:
        b = s.recv(n - len(data))
        if not b:
            return None
        data += b
    return data


class SlowRest(threading.Thread):
    """n slowloris connections, each reconnecting once the peer closes it."""

    START = b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nX-Slow: "

    def __init__(self, addr: tuple, n: int):
        super().__init__(daemon=True)
        self.addr, self.n, self.done = addr, n, False
        self.connects = self.closed = self.answers = 0
        self.statuses: dict = {}

    def _open(self, sel: selectors.BaseSelector) -> None:
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(self.addr)
        self.connects += 1
        sel.register(s, selectors.EVENT_READ, [0, time.monotonic()])

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        for _ in range(self.n):
            self._open(sel)
        while not self.done:
            for key, _ev in sel.select(0.1):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self.answers += 1
                    st = data[9:12].decode(errors="replace")
                    self.statuses[st] = self.statuses.get(st, 0) + 1
                sel.unregister(s)
                s.close()
                self.closed += 1
                self._open(sel)
            now = time.monotonic()
            for key in list(sel.get_map().values()):
                sent, last = key.data
                if now - last >= (0.05 if sent == 0 else 1.0):
                    chunk = self.START if sent == 0 else b"y"
                    try:
                        key.fileobj.send(chunk)
                        key.data[0], key.data[1] = sent + len(chunk), now
                    except (BlockingIOError, OSError):
                        key.data[1] = now
        for key in list(sel.get_map().values()):
            key.fileobj.close()


class BigFrames(threading.Thread):
    """n protocol connections each announcing a 50 MB frame and sending `part` bytes of it,
    then holding the connection open until the peer closes it or we stop."""

    def __init__(self, addr: tuple, n: int, part: int = 40 * MB):
        super().__init__(daemon=True)
        self.addr, self.n, self.part, self.done = addr, n, part, False
        self.sent = 0
        self.replies: dict = {}
        self.lock = threading.Lock()

    def one(self) -> None:
        from convex_repl.peer.protocol import decode_message
        from kernel.data.cell import vlq
        chunk = b"\x00" * MB
        try:
            s = socket.create_connection(self.addr, timeout=30)
            s.sendall(vlq(50_000_000))
            n = 0
            while n < self.part and not self.done:
                s.sendall(chunk)
                n += len(chunk)
                with self.lock:
                    self.sent += len(chunk)
        except OSError:
            pass
        try:
            s.settimeout(1.0)
            while not self.done:           # the peer's answer (a Result), if any
                try:
                    data = read_frame(s)
                except socket.timeout:
                    continue
                if data is None:
                    break
                r = decode_message(data, {})
                key = f":{r.error.name} {r.value}" if r.error is not None else "ok"
                with self.lock:
                    self.replies[key] = self.replies.get(key, 0) + 1
                break
        except OSError:
            pass
        finally:
            s.close()

    def run(self) -> None:
        ts = [threading.Thread(target=self.one, daemon=True) for _ in range(self.n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    ap.add_argument("--rest", type=int, default=1000, help="slow REST connections")
    ap.add_argument("--frames", type=int, default=20, help="partial 50 MB frames")
    args = ap.parse_args()
    p, info = start_peer()
    host, port = info["url"][len("http://"):].split(":")
    rest = (host, int(port))
    ph, pp = info["protocol"].split(":")
    proto = (ph, int(pp))
    sampler, prober = Sampler(p.pid), Prober(info["url"], proto)
    sampler.start()
    prober.start()
    try:
        time.sleep(3)                        # warm: imports, first queries
        base, base_threads = proc_status(p.pid)
        report = []

        def phase(name: str, slow: bool, frames: bool) -> None:
            sampler.phase = prober.phase = name
            loads = []
            if slow:
                loads.append(SlowRest(rest, args.rest))
            if frames:
                loads.append(BigFrames(proto, args.frames))
            for x in loads:
                x.start()
            time.sleep(args.seconds)
            for x in loads:
                x.done = True
            for x in loads:
                x.join(40)
            report.append((name, loads))
            sampler.phase = prober.phase = "idle"
            time.sleep(2)
        phase(f"{args.rest} slow REST connections", True, False)
        phase(f"{args.frames} partial 50 MB frames", False, True)
        phase("both at once", True, True)
        after, _ = proc_status(p.pid)
    finally:
        prober.done = sampler.done = True
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()

    print(f"peer RSS at rest: {base / MB:.0f} MB ({base_threads} threads); "
          f"after the load: {after / MB:.0f} MB")
    print(f"{'phase':<34} {'peak RSS':>9} {'growth':>8} {'threads':>8}   queries answered "
          f"(REST, protocol; median / max latency)")
    for name, loads in report:
        rss, th = sampler.peaks.get(name, (0, 0))
        qs = []
        for kind in ("REST", "protocol"):
            s = prober.stats.get((name, kind), {"ok": [], "failed": 0})
            ok = s["ok"]
            lat = (f"{statistics.median(ok) * 1000:.0f}/{max(ok) * 1000:.0f} ms"
                   if ok else "-")
            qs.append(f"{kind} {len(ok)}/{len(ok) + s['failed']} {lat}")
        print(f"{name:<34} {rss / MB:>6.0f} MB {(rss - base) / MB:>+5.0f} MB {th:>8}   "
              + ", ".join(qs))
        for kind in ("REST", "protocol"):
            why = prober.stats.get((name, kind), {}).get("why")
            if why:
                print(f"    {kind} queries failed: {why}")
        for x in loads:
            if isinstance(x, SlowRest):
                print(f"    slow REST: {x.connects} connections made, {x.closed} closed by "
                      f"the peer, answers {x.statuses or 'none'}")
            else:
                print(f"    frames: {x.sent / MB:.0f} MB sent of {x.n * x.part / MB:.0f} MB "
                      f"claimed; replies {x.replies or 'none'}")


if __name__ == "__main__":
    main()
