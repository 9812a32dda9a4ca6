"""REPL commands for a local network run by the REPL itself: `:local start [N]` launches
`convex local start --peers N --port 0 --json` as a child process and connects to its first
peer as `:connect URL` does; `:local stop` stops it and goes back to the local CVM, as
`:disconnect` does; `:local` tells what is running.

The child runs in a session of its own, so a Ctrl-C at the REPL (which interrupts an
evaluation) does not reach it. It is stopped by `:local stop`, by `:local start` again and
when the REPL's process exits: SIGTERM, then SIGKILL if it has not stopped after a few
seconds.

Going back in time: the network keeps its peers' stores (`--data`) in a temporary directory
of the REPL's. `LocalNet.snapshot(tag)` copies every peer's store (SQLite's online backup:
a consistent copy while the peer runs) once all peers report the same state; `restore(tag)`
stops the network, puts the copies back and starts it again on them, where it continues
from that state. local_workspace.LocalNetWorkspace builds undo, redo, checkpoints and reset
on these. The directory and its copies are deleted when the network is stopped."""
from __future__ import annotations

import atexit
import os
import sys
import time
from collections import deque
from typing import Any, Optional

from convex_repl.repl.app import Repl
from convex_repl.repl.commands import command
from convex_repl.repl.remote import connect, disconnect

START_TIMEOUT = 30.0    # seconds for the JSON line to come...
PER_PEER = 5.0          # ... and this many more for each peer
STOP_GRACE = 5.0        # seconds after SIGTERM before SIGKILL
AGREE_TIMEOUT = 10.0    # seconds for the peers to reach the same state before a copy
USAGE = ":local [start [N]|stop]"

_running: list = []     # the networks started by this process, stopped at exit
_roots: list = []       # their directories, deleted at exit


class LocalNetError(Exception):
    """The network could not be started: the one line to show."""


class LocalNet:
    """A `convex local start` child process and what it printed."""

    def __init__(self, peers: int):
        import tempfile
        import threading
        from pathlib import Path
        self.peers = peers
        self.proc: Any = None              # the subprocess.Popen
        self.root = Path(tempfile.mkdtemp(prefix="convex-local-"))
        self.data = self.root / "data"     # the network's --data: a store per peer
        self.kept = self.root / "kept"     # copies of the stores: kept/<tag>/...
        self.port = 0                      # the first peer's REST port (kept on restarts)
        self._remotes: dict = {}           # url -> client.remote.Remote, for statuses
        self.info: dict = {}
        self._stderr: deque = deque(maxlen=50)
        self._lines: deque = deque()
        self._got_line = threading.Event()
        self._readers: list = []
        _roots.append(self.root)

    # --- what it printed -----------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def urls(self) -> list:
        """The REST URL of each peer, the first one first."""
        peers = self.info.get("peers")
        if isinstance(peers, list) and peers:
            return [p["url"] for p in peers if isinstance(p, dict) and p.get("url")]
        return [self.url]

    def seeds(self) -> dict:
        """{address: nacl SigningKey} of the funded accounts it printed."""
        from nacl.signing import SigningKey
        out = {}
        for a in self.info.get("accounts") or []:
            try:
                seed = bytes.fromhex(str(a["seed"]).removeprefix("0x"))
                out[int(str(a["address"]).lstrip("#"))] = SigningKey(seed)
            except (KeyError, TypeError, ValueError):
                continue
        return out

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # --- starting and stopping -----------------------------------------------------------
    def command(self) -> list:
        return [sys.executable, "-m", "convex_repl", "local", "start", "--peers",
                str(self.peers), "--port", str(self.port), "--json", "--data", str(self.data)]

    def start(self, timeout: Optional[float] = None) -> None:
        """Launch the child and wait for its JSON line; LocalNetError if it doesn't come."""
        import subprocess
        import threading
        self._stderr.clear()
        self._lines.clear()
        self._got_line.clear()
        self._readers = []
        try:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, bufsize=1,
                                         start_new_session=True, env=_child_env())
        except OSError as e:
            raise LocalNetError(f"can't start a local network: {e}") from None
        _running.append(self)
        _stop_on_signals()
        for stream, sink in ((self.proc.stdout, self._on_stdout),
                             (self.proc.stderr, self._stderr.append)):
            t = threading.Thread(target=_drain, args=(stream, sink), daemon=True,
                                 name="convex-local-net")
            t.start()
            self._readers.append(t)
        try:
            self._wait_for_info(START_TIMEOUT + PER_PEER * self.peers if timeout is None else timeout)
        except BaseException:           # LocalNetError, or Ctrl-C while waiting
            self._stop(STOP_GRACE)
            raise

    def _on_stdout(self, line: str) -> None:
        if not self._got_line.is_set() and line.strip():
            self._lines.append(line)
            self._got_line.set()

    def _wait_for_info(self, timeout: float) -> None:
        import json
        end = time.monotonic() + timeout
        error_seen: Optional[float] = None
        while not self._got_line.wait(0.05):
            if self.proc.poll() is not None:
                for t in self._readers:         # what it said before it died
                    t.join(1.0)
                if self._got_line.is_set():
                    break
                raise LocalNetError(f"the local network did not start (exit code "
                                    f"{self.proc.returncode}): {self._error_line()}")
            if error_seen is None and any(_is_error(ln) for ln in self._stderr):
                error_seen = time.monotonic()   # give it a moment to finish or to exit
            now = time.monotonic()
            if error_seen is not None and (now - error_seen > 2.0 or now > end):
                raise LocalNetError(f"the local network did not start: {self._error_line()}")
            if now > end:
                raise LocalNetError(f"the local network did not start within {timeout:.0f} s"
                                    + (f": {self._error_line()}" if self._stderr else ""))
        line = self._lines[0].strip()
        try:
            info = json.loads(line)
        except ValueError:
            info = None
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            raise LocalNetError(f"the local network printed {line[:200]!r}, not its JSON "
                                "line with a url")
        self.info = info
        from urllib.parse import urlparse
        try:
            self.port = urlparse(info["url"]).port or 0
        except ValueError:
            self.port = 0

    def _error_line(self) -> str:
        lines = [ln.strip() for ln in self._stderr if ln.strip()]
        if not lines:
            return "it printed nothing on stderr"
        for ln in lines:                        # a tool's own error line says it best
            if ln.startswith("convex: error"):
                return ln
        return lines[-1]                        # else the end of a traceback, say

    def stop(self, grace: float = STOP_GRACE, keep: bool = False) -> Optional[int]:
        """SIGTERM, then SIGKILL (to its whole process group) after `grace` seconds; the
        exit code (None if it was never started). Its directory (stores and their copies)
        is deleted unless `keep` (to start it again)."""
        import shutil
        code = self._stop(grace)
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
            if self.root in _roots:
                _roots.remove(self.root)
        return code

    def _stop(self, grace: float) -> Optional[int]:
        import signal
        import subprocess
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(grace)
            except subprocess.TimeoutExpired:
                try:                            # not reaped yet: the group is still its own
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    p.kill()
                p.wait(5)
            except OSError:
                pass
        for t in self._readers:
            t.join(1.0)
        for s in (p.stdout, p.stderr):
            try:
                s.close()
            except OSError:
                pass
        if self in _running:
            _running.remove(self)
        return p.returncode

    # --- copies of the stores ------------------------------------------------------------
    def statuses(self) -> list:
        """Each peer's /api/v1/status (RemoteError if one can't be reached)."""
        from convex_repl.client.remote import Remote
        out = []
        for u in self.urls:
            if u not in self._remotes:
                self._remotes[u] = Remote(u, timeout=10.0)
            out.append(self._remotes[u].status())
        return out

    def agreed_state(self, timeout: float = AGREE_TIMEOUT) -> str:
        """The state hash (hex) once every peer reports the same one and nothing pending;
        LocalNetError if they don't within `timeout` seconds."""
        end = time.monotonic() + timeout
        while True:
            sts = self.statuses()
            states = {s.get("state") for s in sts}
            if len(states) == 1 and not any(s.get("pending") for s in sts):
                h = states.pop() or ""
                return h[2:] if h.startswith("0x") else h
            if time.monotonic() > end:
                raise LocalNetError("the peers did not agree on a state within "
                                    f"{timeout:.0f} s")
            time.sleep(0.02)

    def snapshot(self, tag: str, tries: int = 3) -> str:
        """Copy every peer's store to kept/<tag>, once they agree; the state hash. The copy
        is SQLite's online backup, consistent while a peer writes; it is taken again (up to
        `tries` times) if a block arrived meanwhile."""
        import shutil
        import sqlite3
        h = self.agreed_state()
        dest = self.kept / tag
        shutil.rmtree(dest, ignore_errors=True)
        for db in sorted(self.data.rglob("*.db")):
            target = dest / db.relative_to(self.data)
            target.parent.mkdir(parents=True, exist_ok=True)
            src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
            try:
                out = sqlite3.connect(str(target))
                try:
                    src.backup(out)
                finally:
                    out.close()
            finally:
                src.close()
        if tries > 1 and self.agreed_state() != h:     # a block arrived meanwhile: again
            return self.snapshot(tag, tries - 1)
        return h

    def restore(self, tag: str) -> None:
        """Stop the network, put the stores copied as `tag` back and start it again on
        them (the first peer on the same port when it is free); LocalNetError if it doesn't
        start."""
        import shutil
        src = self.kept / tag
        if not src.is_dir():
            raise LocalNetError(f"no kept copy {tag!r} of the network's stores")
        self._stop(STOP_GRACE)
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.copytree(src, self.data)
        try:
            self.start()
        except LocalNetError:
            if self.port == 0:
                raise
            self.port = 0                       # its port was taken meanwhile: any port
            self.start()

    def drop(self, tag: str) -> None:
        import shutil
        shutil.rmtree(self.kept / tag, ignore_errors=True)


def _drain(stream: Any, sink: Any) -> None:
    try:
        for line in stream:
            sink(line)
    except (OSError, ValueError):
        pass


def _is_error(line: str) -> bool:
    low = line.lower()
    return "error" in low or line.startswith("Traceback")


def _child_env() -> dict:
    """The REPL's environment, with this package importable by the child as it is here."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                else "")
    return env


@atexit.register
def _stop_all() -> None:
    import shutil
    for net in list(_running):
        net.stop()
    for root in list(_roots):
        shutil.rmtree(root, ignore_errors=True)
        _roots.remove(root)


_signals_set = False


def _stop_on_signals() -> None:
    """A REPL ended by SIGTERM or SIGHUP (its terminal closed) stops its networks too, then
    dies of the signal as it would have; only where the signal's handler is the default."""
    global _signals_set
    import signal
    if _signals_set:
        return
    _signals_set = True

    def on_signal(signum: int, frame: Any) -> None:
        _stop_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        try:
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, on_signal)
        except (ValueError, OSError):       # not the main thread
            pass


def local_net_workspace(net: LocalNet, address: int, seeds: dict) -> Any:
    """The workspace on a network the REPL started (local_workspace.LocalNetWorkspace): it
    signs for the funded accounts the network printed (also after `:account #11`), whatever
    keys their genesis used, and goes back in time through copies of the peers' stores.
    (Imported on first use: the remote client imports the CVM.)"""
    from convex_repl.repl.local_workspace import LocalNetWorkspace
    return LocalNetWorkspace(net, address, seeds)


# --- the commands -----------------------------------------------------------------------------

def current(repl: Repl) -> Optional[LocalNet]:
    return getattr(repl, "local_net", None)


def _on_it(repl: Repl, net: LocalNet) -> bool:
    """Is the REPL connected to one of the network's peers?"""
    url = getattr(repl._ws, "url", None)
    return bool(getattr(repl._ws, "remote", False)) and url in net.urls


def stop_local(repl: Repl) -> bool:
    """Stop the REPL's network (going back to the local CVM if on it); False if none."""
    import signal
    net = current(repl)
    if net is None:
        return False
    repl.local_net = None
    on_it = _on_it(repl, net)
    code = net.stop()
    if on_it:
        disconnect(repl)
    n = net.peers
    repl.out.info(f"stopped the local network ({n} peer{'s' if n != 1 else ''}"
                  + (f", exit code {code}" if code not in (0, None, -signal.SIGTERM) else "")
                  + ")" + ("; back to the local CVM" if on_it else ""))
    return True


def start_local(repl: Repl, peers: int) -> bool:
    if current(repl) is not None:
        stop_local(repl)
    address = repl.ws.address
    repl.out.dim(f"starting a local network of {peers} peer{'s' if peers != 1 else ''}…")
    net = LocalNet(peers)
    try:
        net.start()
    except LocalNetError as e:
        net.stop()
        repl.out.warn(str(e))
        return False
    except KeyboardInterrupt:
        net.stop()
        repl.out.warn("Interrupted: the local network was not started.")
        return False
    seeds = net.seeds()
    if address not in seeds and seeds:
        first = 13 if 13 in seeds else min(seeds)
        repl.out.info(f"#{address} is not a funded account of the new network: acting as "
                      f"#{first}")
        address = first
    try:
        ws = local_net_workspace(net, address, seeds)
        ok = connect(repl, ws)
        if ok:
            try:
                ws.start()
            except Exception as e:          # Unsupported, RemoteError: it still works
                repl.out.warn(f"{e} (:undo, :checkpoint and :reset won't work)")
    except KeyboardInterrupt:
        ok = False
    if not ok:
        net.stop()
        repl.out.warn("the local network was stopped")
        return False
    repl.local_net = net
    _show_peers(repl, net)
    repl.out.info(":local stop stops it and goes back to the local CVM")
    return True


def _show_peers(repl: Repl, net: LocalNet) -> None:
    urls = net.urls
    if len(urls) == 1:
        repl.out.info(f"  peer REST API: {urls[0]}")
        return
    for i, u in enumerate(urls, 1):
        repl.out.info(f"  peer {i} REST API: {u}")


@command("local", USAGE, "start a local network of N peers (default 1) as a child process "
         "and work against it; stop it and go back to the local CVM; what is running")
def _local(repl: Repl, arg: str) -> None:
    parts = arg.split()
    sub = parts[0] if parts else ""
    if sub == "start" and len(parts) <= 2:
        n = parts[1] if len(parts) == 2 else "1"
        if not n.isdigit() or int(n) < 1:
            repl.out.warn(f"the number of peers must be a whole number, at least 1 (not "
                          f"{n!r}); usage: :local start [N]")
            return
        start_local(repl, int(n))
    elif sub == "stop" and len(parts) == 1:
        if not stop_local(repl):
            repl.out.info("no local network is running")
    elif not parts:
        _status(repl)
    else:
        repl.out.warn(f"usage: {USAGE}")


def _status(repl: Repl) -> None:
    net = current(repl)
    if net is None:
        repl.out.info("no local network is running; :local start [N] starts one")
        return
    if not net.alive:
        code = net.proc.returncode if net.proc is not None else None
        on_it = _on_it(repl, net)
        net.stop()
        repl.local_net = None
        if on_it:
            disconnect(repl)
        repl.out.warn(f"the local network has stopped by itself (exit code {code})"
                      + ("; back to the local CVM" if on_it else ""))
        return
    n = net.peers
    where = (f"connected as #{repl.ws.address}" if _on_it(repl, net)
             else "not connected to it (:connect URL)")
    repl.out.info(f"local network of {n} peer{'s' if n != 1 else ''} (pid {net.proc.pid}), "
                  f"{where}")
    _show_peers(repl, net)


__all__ = ["LocalNet", "LocalNetError", "local_net_workspace", "start_local", "stop_local"]
