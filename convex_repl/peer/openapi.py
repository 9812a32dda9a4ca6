"""The OpenAPI 3 document of the REST API (GET /openapi): a description of the routes in
rest.py, as data. Kept apart because it is long and does nothing; API is the prefix of
every endpoint, here so that the document and the routes share it.
"""
from __future__ import annotations

from typing import Any

API = "/api/v1"


def _obj(props: dict, required: tuple = ()) -> dict:
    d: dict = {"type": "object", "properties": props}
    if required:
        d["required"] = list(required)
    return d


_ADDR = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string",
                                                        "example": "#13"}]}
_HEX = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]*$"}
_RESULT = {"$ref": "#/components/schemas/Result"}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _post(summary: str, req: dict, ok: dict, errors: tuple = (400,)) -> dict:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for e in errors:
        responses[str(e)] = {"description": "Error",
                             "content": {"application/json": {"schema": _ERROR}}}
    return {"post": {"summary": summary, "requestBody": {
        "required": True, "content": {"application/json": {"schema": req}}},
        "responses": responses}}


def openapi(addr: Any = None) -> dict:
    """The OpenAPI 3 document of this server."""
    servers = [{"url": f"http://{addr[0]}:{addr[1]}"}] if addr else []
    paths = {
        API + "/createAccount": _post(
            "Create an account for a public key (the faucet account runs create-account)",
            _obj({"accountKey": _HEX, "faucet": {"type": "integer"}}, ("accountKey",)),
            _obj({"address": {"type": "integer"}}), (400, 403)),
        API + "/faucet": _post(
            "Transfer coins from the faucet (capped at the server's faucet maximum)",
            _obj({"address": _ADDR, "amount": {"type": "integer"}}, ("address", "amount")),
            _obj({"address": {"type": "integer"}, "amount": {"type": "integer"},
                  "value": {"type": "integer"}}), (400, 403, 422)),
        API + "/query": _post(
            "Run Convex Lisp read-only (no fees, nothing kept)",
            _obj({"source": {"type": "string"}, "address": _ADDR}, ("source",)), _RESULT),
        API + "/transaction/prepare": _post(
            "Build an Invoke transaction; sign the bytes of `hash` with Ed25519",
            _obj({"address": _ADDR, "source": {"type": "string"},
                  "sequence": {"type": "integer"}}, ("address", "source")),
            _obj({"address": {"type": "integer"}, "source": {"type": "string"},
                  "sequence": {"type": "integer"}, "hash": _HEX, "data": _HEX})),
        API + "/transaction/submit": _post(
            "Submit a prepared transaction with its signature; the Result once it has run",
            _obj({"hash": _HEX, "accountKey": _HEX, "sig": _HEX, "address": _ADDR},
                 ("hash", "accountKey", "sig")), _RESULT, (400, 404)),
        API + "/transact": _post(
            "Prepare, sign with the given seed and submit in one call (or raw SignedData "
            "as application/cvx-raw)",
            _obj({"address": _ADDR, "source": {"type": "string"}, "seed": _HEX},
                 ("address", "source", "seed")), _RESULT),
        API + "/data/encode": _post("CAD3 encoding of Convex Lisp data",
                                    _obj({"data": {"type": "string"}}, ("data",)),
                                    _obj({"cad3": _HEX, "hash": _HEX})),
        API + "/data/decode": _post("Convex Lisp text of a CAD3 encoding",
                                    _obj({"cad3": _HEX}, ("cad3",)),
                                    _obj({"cvx": {"type": "string"}})),
        API + "/data/cells": _post("Cells by value ID, each its own encoding alone (its branches "
                                   "by reference), null if unknown: a value fetched cell by "
                                   "cell (convex --fork)",
                                   _obj({"hashes": {"type": "array", "items": _HEX}},
                                        ("hashes",)),
                                   _obj({"cells": {"type": "array", "items": _HEX}})),
        API + "/accounts/{address}": {"get": {
            "summary": "An account's balance, sequence, key, allowance and type",
            "parameters": [{"name": "address", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Account"}}}},
                "400": {"description": "Invalid address"},
                "404": {"description": "No such account"}}}},
        API + "/status": {"get": {"summary": "Peer status",
                                  "responses": {"200": {"description": "OK"}}}},
        API + "/health": {"get": {
            "summary": "Health for monitoring: 200 while the peer takes part in consensus "
                       "(status ok, or degraded with some stake out of reach or blocks "
                       "waiting over 10 s to be final), 503 when it is halted or cut off "
                       "(it reaches at most 2/3 of the stake)",
            "responses": {s: {"description": d, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Health"}}}}
                for s, d in (("200", "In consensus"), ("503", "Halted or cut off"))}}},
        API + "/tx": {"get": {"summary": "A transaction's position and result by its hash",
                              "parameters": [{"name": "hash", "in": "query", "required": True,
                                              "schema": _HEX}],
                              "responses": {"200": {"description": "OK"},
                                            "404": {"description": "Not found"}}}},
        API + "/blocks": {"get": {"summary": "Blocks, oldest first, each with the hash of "
                                             "the state after it and of its results",
                                  "parameters": [
                                      {"name": "offset", "in": "query",
                                       "schema": {"type": "integer"}},
                                      {"name": "limit", "in": "query",
                                       "schema": {"type": "integer"}}],
                                  "responses": {"200": {"description": "OK"}}}},
        API + "/blocks/{n}": {"get": {"summary": "One block",
                                      "parameters": [{"name": "n", "in": "path",
                                                      "required": True,
                                                      "schema": {"type": "integer"}}],
                                      "responses": {"200": {"description": "OK"},
                                                    "404": {"description": "Not found"}}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Convex REST API (convex-repl local peer)", "version": "1"},
        "servers": servers,
        "paths": paths,
        "components": {"schemas": {
            "Result": _obj({"value": {}, "result": {"type": "string"},
                            "errorCode": {"type": "string"},
                            "info": _obj({"juice": {"type": "integer"},
                                          "fees": {"type": "integer"},
                                          "mem": {"type": "integer"},
                                          "tx": {"type": "string"},
                                          "loc": {"type": "array",
                                                  "items": {"type": "integer"}},
                                          "source": {"type": "string"}})}),
            "Error": _obj({"error": {"type": "string"}}, ("error",)),
            "Health": _obj({
                "status": {"type": "string", "enum": ["ok", "degraded", "halted"]},
                "healthy": {"type": "boolean"}, "reason": {"type": "string", "nullable": True},
                "consensus": {"type": "boolean"},
                "halted": {"type": "string", "nullable": True},
                "consensus-point": {"type": "integer"}, "block-point": {"type": "integer"},
                "lag-blocks": {"type": "integer", "description": "blocks known (proposed) "
                               "but not final yet"},
                "since-final-ms": {"type": "integer", "nullable": True,
                                   "description": "ms since the last final block's time"},
                "last-block-time": {"type": "integer", "nullable": True},
                "connected-stake": {"type": "integer"}, "total-stake": {"type": "integer"},
                "stake-fraction": {"type": "number"},
                "peers-connected": {"type": "integer"}, "peers": {"type": "integer"},
                "timestamp": {"type": "integer"}},
                ("status", "healthy", "consensus", "connected-stake", "total-stake")),
            "Account": _obj({"address": {"type": "integer"}, "key": {"type": "string"},
                             "balance": {"type": "integer"}, "allowance": {"type": "integer"},
                             "memorySize": {"type": "integer"}, "sequence": {"type": "integer"},
                             "type": {"type": "string", "enum": ["user", "actor"]}},
                            ("address", "balance", "sequence", "type")),
        }},
    }


__all__ = ["API", "openapi"]
