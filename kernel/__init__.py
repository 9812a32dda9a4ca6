"""The CVM kernel: values (data), the State (state), the machine (cvm), core functions (core),
the state transition (transition) and CPoS (consensus). This facade imports data, state and cvm
(so every record decodes as itself) and never lisp.

Public entry points:
    encode(value) -> bytes        canonical top-cell encoding
    decode(data) -> value         strict inverse of encode (DecodeError on bad bytes)
    value_id(value) -> bytes      SHA3-256 of the encoding
    memory_size(value) -> int     CAD006 memory size
"""
from kernel.data.cell import (BranchRef, Cell, DecodeError, MissingData, encoding, memory_size,
                              value_id, write_ref)
from kernel.data.scalars import NAN, Address, ByteFlag, Char, Extension, Keyword, Symbol
from kernel.data.blobs import Blob, PartialBlob, String
from kernel.data.vectors import List, Vector
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.syntax import Syntax
from kernel.data.records import CodedValue, DenseRecord, Signed
from kernel.data.decoding import decode, decode_multi, encode_multi
from kernel.data.equality import dict_key, equals
from kernel.cvm import op_decoding  # noqa: F401,E402  (code values decode to executable ops)
from kernel.state.state import (Account, PeerStatus, Record, State)  # noqa: E402  (records decode as such)
from kernel.state import transactions  # noqa: F401,E402  (transactions, blocks and results too)

encode = encoding

__all__ = [
    "encode", "decode", "value_id", "memory_size", "encode_multi", "decode_multi", "equals",
    "dict_key", "write_ref", "Cell", "BranchRef", "DecodeError", "MissingData", "NAN",
    "Address", "ByteFlag", "Char", "Extension", "Keyword", "Symbol", "Blob", "String",
    "PartialBlob", "Vector", "List", "Map", "Set", "Index", "Syntax", "DenseRecord",
    "CodedValue", "Signed", "Record", "State", "Account", "PeerStatus",
]
