"""`convex lsp`: the Convex Lisp language server over stdio, on pygls.

Each open document is analysed (analysis.py) when it opens or changes: the reader's and the
compiler's diagnostics are published, and the analysis answers the rest. Completion and
hover come from the session the file leaves behind, as the REPL's Tab and `:doc` do (core
functions, the file's definitions, `alias/` names of imported libraries); go to definition
looks in the open documents, then the workspace's `.cvx` files, then the standard library;
document symbols are the file's definitions; formatting is fmt.py; an inlay hint after each
top-level form gives its juice (initializationOptions `{"juiceHints": false}` turns them off).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from convex_repl.editor import docs
from convex_repl.editor.analysis import Analysis, Analyzer
from convex_repl.editor.tokens import definitions, parse

MAX_WORKSPACE_FILES = 2000
_SKIP_DIRS = frozenset((".git", ".venv", "venv", "node_modules", "__pycache__", ".tox"))


class ConvexLanguageServer(LanguageServer):
    """The server's state: an analysis per open document, the workspace's definitions."""

    def __init__(self) -> None:
        import convex_repl
        super().__init__("convex-lsp", getattr(convex_repl, "__version__", "0.1"),
                         text_document_sync_kind=T.TextDocumentSyncKind.Full)
        self.analyzer = Analyzer()
        self.analyses: dict = {}          # uri -> Analysis
        self.juice_hints = True
        self._files: dict = {}            # path -> (mtime, definitions)

    # --- analysis ------------------------------------------------------------------------
    def analyse(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        try:
            a = self.analyzer.analyse(doc.source, to_fs_path(uri) or uri)
        except Exception as e:      # a bug here must not cost the editor its server
            self.window_log_message(T.LogMessageParams(
                type=T.MessageType.Error, message=f"convex lsp: analysis failed: "
                                                  f"{type(e).__name__}: {e}"))
            a = Analysis(doc.source)
            a.session = self.analyzer.base_session(to_fs_path(uri) or uri, doc.source)
        self.analyses[uri] = a
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
            uri=uri, version=doc.version,
            diagnostics=[_diagnostic(a.text, d) for d in a.diagnostics]))
        return a

    def analysis(self, uri: str) -> Analysis:
        a = self.analyses.get(uri)
        doc = self.workspace.get_text_document(uri)
        if a is None or a.text != doc.source:
            a = self.analyse(uri)
        return a

    # --- definitions across files --------------------------------------------------------------
    def _file_definitions(self, path: Path) -> list:
        try:
            mtime = path.stat().st_mtime
            hit = self._files.get(path)
            if hit is not None and hit[0] == mtime:
                return hit[1]
            text = path.read_text(encoding="utf-8")
            defs = [(name, _range(text, node.start, node.end))
                    for name, _, node, _ in definitions(parse(text)[0])]
        except (OSError, ValueError, UnicodeDecodeError):
            defs = []
            mtime = None
        self._files[path] = (mtime, defs)
        return defs

    def workspace_files(self) -> list:
        roots = [to_fs_path(f.uri) for f in (self.workspace.folders or {}).values()]
        if not roots and self.workspace.root_path:
            roots = [self.workspace.root_path]
        out: list = []
        for root in roots:
            for base, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
                out.extend(Path(base) / f for f in files if f.endswith(".cvx"))
                if len(out) >= MAX_WORKSPACE_FILES:
                    return out
        return out

    def find_definitions(self, uri: str, name: str) -> list:
        """Locations defining `name` (the symbol of `alias/name`): this document first, then
        the other open ones, the workspace's files and the standard library."""
        head, sym = docs.split_path(name)
        if head is not None and uri in self.analyses:
            lib = _imported_as(self.analyses[uri], head)
            if lib is not None:         # alias/name: the library's own file, when it is found
                stem = lib.rsplit(".", 1)[-1]
                found = [loc for loc in self._find(uri, sym, everywhere=True)
                         if Path(to_fs_path(loc.uri) or "").stem == stem]
                if found:
                    return found
        return self._find(uri, sym)

    def _find(self, uri: str, sym: str, everywhere: bool = False) -> list:
        out: list = []
        seen: set = set()
        for u in [uri] + [k for k in self.analyses if k != uri]:
            a = self.analyses[u]
            path = to_fs_path(u)
            if path:
                seen.add(Path(path).resolve())
            for dname, _, node, _ in a.definitions():
                if dname == sym:
                    out.append(T.Location(uri=u, range=_range(a.text, node.start, node.end)))
        if out and not everywhere:
            return out
        import stdlib
        files = self.workspace_files() + sorted(Path(stdlib.__file__).parent.rglob("*.cvx"))
        for path in files:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            for dname, rng in self._file_definitions(path):
                if dname == sym:
                    out.append(T.Location(uri=from_fs_path(str(path)), range=rng))
        return out


# --- positions --------------------------------------------------------------------------------

def _position(text: str, offset: int) -> T.Position:
    """LSP position (0-based line, UTF-16 units) of an offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return T.Position(line=line, character=len(text[start:offset].encode("utf-16-le")) // 2)


def _range(text: str, start: int, end: int) -> T.Range:
    return T.Range(start=_position(text, start), end=_position(text, end))


def _diagnostic(text: str, d: Any) -> T.Diagnostic:
    return T.Diagnostic(range=_range(text, d.start, d.end), message=d.message,
                        severity=T.DiagnosticSeverity(d.severity), code=d.code or None,
                        source="convex")


def _offset(ls: ConvexLanguageServer, uri: str, pos: T.Position) -> int:
    return ls.workspace.get_text_document(uri).offset_at_position(pos)


_DEF_KINDS = {"defn": T.SymbolKind.Function, "defmacro": T.SymbolKind.Function,
              "defexpander": T.SymbolKind.Function, "deftest": T.SymbolKind.Method}


# --- the server ---------------------------------------------------------------------------------

def make_server() -> ConvexLanguageServer:
    ls = ConvexLanguageServer()

    @ls.feature(T.INITIALIZE)
    def _initialize(ls: ConvexLanguageServer, params: T.InitializeParams) -> None:
        opts = params.initialization_options
        if isinstance(opts, dict) and opts.get("juiceHints") is False:
            ls.juice_hints = False

    @ls.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def _opened(ls: ConvexLanguageServer, params: T.DidOpenTextDocumentParams) -> None:
        ls.analyse(params.text_document.uri)

    @ls.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def _changed(ls: ConvexLanguageServer, params: T.DidChangeTextDocumentParams) -> None:
        ls.analyse(params.text_document.uri)

    @ls.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def _saved(ls: ConvexLanguageServer, params: T.DidSaveTextDocumentParams) -> None:
        ls.analyse(params.text_document.uri)

    @ls.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def _closed(ls: ConvexLanguageServer, params: T.DidCloseTextDocumentParams) -> None:
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
            uri=params.text_document.uri, diagnostics=[]))

    @ls.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["/"]))
    def _complete(ls: ConvexLanguageServer, params: T.CompletionParams) -> T.CompletionList:
        uri = params.text_document.uri
        a = ls.analysis(uri)
        prefix = docs.prefix_before(a.text, _offset(ls, uri, params.position))
        items = []
        for name, meta in docs.completions(a.session, prefix, tuple(a.file_names))[:200]:
            d = docs.doc_of(a.session, name)
            if d:
                detail = "  ".join(docs.signatures(name, d)) or meta
                more = T.MarkupContent(kind=T.MarkupKind.Markdown, value=docs.markdown(name, d))
            else:
                detail, more = meta, None
            items.append(T.CompletionItem(label=name, detail=detail or None, documentation=more,
                                          kind=T.CompletionItemKind.Function))
        return T.CompletionList(is_incomplete=False, items=items)

    @ls.feature(T.TEXT_DOCUMENT_HOVER)
    def _hover(ls: ConvexLanguageServer, params: T.HoverParams) -> Optional[T.Hover]:
        uri = params.text_document.uri
        a = ls.analysis(uri)
        name, start, end = docs.name_at(a.text, _offset(ls, uri, params.position))
        if not name:
            return None
        d = docs.doc_of(a.session, name)
        if d:
            text = docs.markdown(name, d)
        else:
            text = _local_summary(a, name)
            if text is None:
                return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=text),
                       range=_range(a.text, start, end))

    @ls.feature(T.TEXT_DOCUMENT_DEFINITION)
    def _definition(ls: ConvexLanguageServer, params: T.DefinitionParams) -> list:
        uri = params.text_document.uri
        a = ls.analysis(uri)
        name, _, _ = docs.name_at(a.text, _offset(ls, uri, params.position))
        return ls.find_definitions(uri, name) if name else []

    @ls.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def _symbols(ls: ConvexLanguageServer, params: T.DocumentSymbolParams) -> list:
        a = ls.analysis(params.text_document.uri)
        return [T.DocumentSymbol(name=name, detail=head,
                                 kind=_DEF_KINDS.get(head, T.SymbolKind.Variable),
                                 range=_range(a.text, form.start, form.end),
                                 selection_range=_range(a.text, node.start, node.end))
                for name, head, node, form in a.definitions()]

    @ls.feature(T.TEXT_DOCUMENT_FORMATTING)
    def _format(ls: ConvexLanguageServer, params: T.DocumentFormattingParams) -> list:
        from lisp import ReaderError
        from convex_repl.editor.fmt import FormatError, format_text
        text = ls.workspace.get_text_document(params.text_document.uri).source
        try:
            new = format_text(text)
        except (ReaderError, FormatError) as e:
            ls.window_show_message(T.ShowMessageParams(type=T.MessageType.Warning,
                                                       message=f"not formatted: {e}"))
            return []
        if new == text:
            return []
        return [T.TextEdit(range=_range(text, 0, len(text)), new_text=new)]

    @ls.feature(T.TEXT_DOCUMENT_INLAY_HINT, T.InlayHintOptions())
    def _hints(ls: ConvexLanguageServer, params: T.InlayHintParams) -> list:
        if not ls.juice_hints:
            return []
        a = ls.analysis(params.text_document.uri)
        out = []
        for fr in a.forms:
            label = f"juice {fr.juice:,}" + (f" · :{fr.error}" if fr.error else "")
            out.append(T.InlayHint(position=_position(a.text, fr.node.end), label=label,
                                   padding_left=True, tooltip=fr.message or None))
        return out

    return ls


def _imported_as(a: Analysis, alias: str) -> Optional[str]:
    """The library name `(import lib :as alias)` in the file gives alias, or None."""
    for node in a.nodes:
        for n in node.walk():
            kids = n.children
            if n.head() == "import" and len(kids) >= 4 and kids[1].kind == "atom":
                for i in range(2, len(kids) - 1):
                    if kids[i].text == ":as" and kids[i + 1].symbol == alias:
                        return kids[1].text
    return None


def _local_summary(a: Analysis, name: str) -> Optional[str]:
    """Hover text for a definition of the file without documentation: its header."""
    _, sym = docs.split_path(name)
    for dname, head, node, form in a.definitions():
        if dname == sym:
            line = a.text.count("\n", 0, form.start) + 1
            params = next((c for c in form.children[2:] if c.kind == "vector"), None)
            shown = f"({head} {sym}" + (f" {a.text[params.start:params.end]}" if params and
                                        head in ("defn", "defmacro") else "") + " ...)"
            return f"```clojure\n{shown}\n```\n\ndefined at line {line}"
    return None


def main() -> None:
    """Serve on stdin/stdout until the client says exit."""
    make_server().start_io()


__all__ = ["make_server", "main", "ConvexLanguageServer"]
