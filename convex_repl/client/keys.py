"""Ed25519 keys for Convex accounts: BIP39 mnemonics and an encrypted keystore.

A key pair comes from a BIP39 mnemonic (the `mnemonic` package supplies the standard English
wordlist and checksum): the BIP39 seed (PBKDF2-HMAC-SHA512 of the words with the optional
passphrase) is computed and its first 32 bytes are the Ed25519 seed.

The keystore is one JSON file per key in `<convex home>/keys/`: the public key in clear, and
the secret (Ed25519 seed, plus the mnemonic when there is one) encrypted with XSalsa20-Poly1305
(`nacl.secret.SecretBox`) under a key derived from the password with Argon2id
(`nacl.pwhash.argon2id`, salt stored beside it). Nothing here ever prompts: callers pass the
password in (the CLI takes it from the environment, or asks only on a terminal).
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Optional

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeyError_(Exception):
    """A keystore problem, with a one-line message."""


class BadPassword(KeyError_):
    pass


class KeyNotFound(KeyError_):
    pass


def generate_mnemonic(words: int = 12) -> str:
    from mnemonic import Mnemonic
    strength = {12: 128, 15: 160, 18: 192, 21: 224, 24: 256}.get(words)
    if strength is None:
        raise KeyError_("a mnemonic has 12, 15, 18, 21 or 24 words")
    return Mnemonic("english").generate(strength)


def seed_from_mnemonic(words: str, passphrase: str = "") -> bytes:
    from mnemonic import Mnemonic
    m = Mnemonic("english")
    words = " ".join(words.split())
    if not m.check(words):
        raise KeyError_("not a valid BIP39 mnemonic (unknown word or bad checksum)")
    return Mnemonic.to_seed(words, passphrase)[:32]


def public_key(seed: bytes) -> bytes:
    from nacl.signing import SigningKey
    return bytes(SigningKey(seed).verify_key)


def sign(seed: bytes, message: bytes) -> bytes:
    from nacl.signing import SigningKey
    return SigningKey(seed).sign(message).signature


def _box(password: str, salt: bytes):
    from nacl import pwhash, secret
    key = pwhash.argon2id.kdf(secret.SecretBox.KEY_SIZE, password.encode(), salt,
                              opslimit=pwhash.argon2id.OPSLIMIT_INTERACTIVE,
                              memlimit=pwhash.argon2id.MEMLIMIT_INTERACTIVE)
    return secret.SecretBox(key)


class Keystore:
    def __init__(self, home: Path):
        self.dir = home / "keys"

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def names(self) -> list:
        if not self.dir.exists():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json"))

    def list(self) -> list:
        out = []
        for n in self.names():
            try:
                d = json.loads(self.path(n).read_text())
            except (OSError, ValueError):
                continue
            out.append({"name": n, "public_key": d.get("public_key"),
                        "created": d.get("created"), "mnemonic": d.get("has_mnemonic", False)})
        return out

    def save(self, name: Optional[str], seed: bytes, password: str,
             mnemonic: Optional[str] = None, overwrite: bool = False) -> dict:
        from nacl import pwhash, utils
        pk = public_key(seed)
        name = name or pk.hex()[:8]
        if not NAME_RE.match(name):
            raise KeyError_(f"bad key name {name!r}: letters, digits, '.', '_', '-'")
        path = self.path(name)
        if path.exists() and not overwrite:
            raise KeyError_(f"a key named {name!r} exists already")
        if not password:
            raise KeyError_("an empty password would leave the key unprotected")
        salt = utils.random(pwhash.argon2id.SALTBYTES)
        plain = json.dumps({"seed": seed.hex(), "mnemonic": mnemonic}).encode()
        ct = _box(password, salt).encrypt(plain)
        doc = {"version": 1, "name": name, "public_key": "0x" + pk.hex(),
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "has_mnemonic": mnemonic is not None,
               "crypto": {"cipher": "xsalsa20-poly1305", "kdf": "argon2id",
                          "opslimit": "interactive", "memlimit": "interactive",
                          "salt": salt.hex(), "ciphertext": ct.hex()}}
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.dir, 0o700)
        except OSError:
            pass
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, path)
        return {"name": name, "public_key": doc["public_key"], "path": str(path)}

    def load(self, name: str, password: str) -> dict:
        from nacl.exceptions import CryptoError
        path = self.path(name)
        if not path.exists():
            raise KeyNotFound(f"no key named {name!r} (convex key list shows them)")
        try:
            doc = json.loads(path.read_text())
            c = doc["crypto"]
            box = _box(password, bytes.fromhex(c["salt"]))
        except (OSError, ValueError, KeyError) as e:
            raise KeyError_(f"key file {path} is damaged ({e})") from None
        try:
            plain = json.loads(box.decrypt(bytes.fromhex(c["ciphertext"])))
        except CryptoError:
            raise BadPassword(f"wrong password for key {name!r}") from None
        seed = bytes.fromhex(plain["seed"])
        return {"name": name, "public_key": doc["public_key"], "seed": seed,
                "mnemonic": plain.get("mnemonic")}


__all__ = ["Keystore", "KeyError_", "BadPassword", "KeyNotFound", "generate_mnemonic", "seed_from_mnemonic",
           "public_key", "sign"]
