"""A signature-verifying worker process (convex_repl/peer/verifier.py starts them).

Run as `python -m convex_repl.peer.sigworker`: it reads batches on stdin and answers each
with one byte per signature (1 valid, 0 not) on stdout, until stdin closes. It imports
nothing but pynacl, so it starts in ~50 ms, and it verifies under its own interpreter lock:
the peer's threads never wait for it.

Batch: u32 count, u32 size of the rest, then per signature u8 key length (32), the key, u8
signature length (64), the signature, u32 message length, the message (big-endian).
"""
from __future__ import annotations

import sys

from nacl.bindings import crypto_sign_open      # at start: ready before the first batch
from nacl.exceptions import BadSignatureError

MAX_BATCH = 4096                # signatures in one batch
MAX_MESSAGE = 1 << 20           # bytes of one signed message


def verify_batch(data: bytes, count: int) -> bytes:
    """One byte per signature of a batch body: 1 if valid for its key."""
    out = bytearray(count)
    i = 0
    for k in range(count):
        kl = data[i]
        pk = data[i + 1:i + 1 + kl]
        i += 1 + kl
        sl = data[i]
        sig = data[i + 1:i + 1 + sl]
        i += 1 + sl
        ml = int.from_bytes(data[i:i + 4], "big")
        msg = data[i + 4:i + 4 + ml]
        i += 4 + ml
        try:
            crypto_sign_open(sig + msg, pk)
            out[k] = 1
        except (BadSignatureError, ValueError, TypeError):
            pass
    return bytes(out)


def read_exact(f, n: int) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise EOFError
    return b


def serve(inp, out) -> None:
    """Answer batches from `inp` on `out` until `inp` ends."""
    while True:
        try:
            count = int.from_bytes(read_exact(inp, 4), "big")
            size = int.from_bytes(read_exact(inp, 4), "big")
            if count > MAX_BATCH or size > MAX_BATCH * (MAX_MESSAGE + 106):
                return
            body = read_exact(inp, size)
        except EOFError:
            return
        out.write(verify_batch(body, count))
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
