"""`convex lsp` driven by a real LSP client (pygls's) over stdio, as an editor drives it:
one server process for the module, documents opened and changed through the protocol."""
import asyncio
import sys
import threading
from pathlib import Path

import pytest
from lsprotocol import types as T
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


class Editor:
    """A language client on an event loop of its own thread; calls block until answered."""

    def __init__(self, root: Path, options=None):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.client = LanguageClient("test-editor", "1")
        self.diagnostics: dict = {}
        self.versions: dict = {}
        self.changed = threading.Condition()

        @self.client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _published(params):
            with self.changed:
                self.diagnostics[params.uri] = (params.version, list(params.diagnostics))
                self.changed.notify_all()

        self.run(self.client.start_io(sys.executable, "-m", "convex_repl", "lsp"))
        self.init = self.run(self.client.initialize_async(T.InitializeParams(
            capabilities=T.ClientCapabilities(), root_uri=root.as_uri(),
            initialization_options=options,
            workspace_folders=[T.WorkspaceFolder(uri=root.as_uri(), name="root")])))
        self.client.initialized(T.InitializedParams())

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def open(self, uri: str, text: str) -> list:
        """Open a document; the diagnostics published for it."""
        self.versions[uri] = 1
        self.client.text_document_did_open(T.DidOpenTextDocumentParams(
            text_document=T.TextDocumentItem(uri=uri, language_id="convex", version=1,
                                             text=text)))
        return self.wait_diagnostics(uri, 1)

    def change(self, uri: str, text: str) -> list:
        v = self.versions[uri] = self.versions[uri] + 1
        self.client.text_document_did_change(T.DidChangeTextDocumentParams(
            text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=v),
            content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)]))
        return self.wait_diagnostics(uri, v)

    def wait_diagnostics(self, uri: str, version: int) -> list:
        with self.changed:
            ok = self.changed.wait_for(lambda: self.diagnostics.get(uri, (None,))[0] == version,
                                       TIMEOUT)
        assert ok, f"no diagnostics for {uri} version {version}"
        return self.diagnostics[uri][1]

    def doc(self, uri: str) -> T.TextDocumentIdentifier:
        return T.TextDocumentIdentifier(uri=uri)

    def close(self) -> None:
        self.run(self.client.shutdown_async(None))
        self.client.exit(None)
        self.run(self.client.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def editor():
    e = Editor(ROOT)
    yield e
    e.close()


def uri_of(tmp: str) -> str:
    return (ROOT / "tests" / "data" / "lsp-virtual" / tmp).as_uri()   # never written to disk


def pos(line: int, character: int) -> T.Position:
    return T.Position(line=line, character=character)


def test_server_announces_its_features(editor):
    caps = editor.init.capabilities
    assert caps.hover_provider and caps.definition_provider and caps.document_symbol_provider
    assert caps.document_formatting_provider and caps.inlay_hint_provider
    assert "/" in caps.completion_provider.trigger_characters


def test_unclosed_defn_is_reported_at_its_opening_bracket(editor):
    uri = uri_of("unclosed.cvx")
    diags = editor.open(uri, "(def a 1)\n\n  (defn f [x]\n    (+ x 1)\n")
    assert len(diags) == 1
    d = diags[0]
    assert d.severity == T.DiagnosticSeverity.Error and d.message == "unclosed '('"
    assert (d.range.start.line, d.range.start.character) == (2, 2)
    assert (d.range.end.line, d.range.end.character) == (2, 3)
    # closing it clears the diagnostic
    assert editor.change(uri, "(def a 1)\n\n  (defn f [x]\n    (+ x 1))\n") == []


def test_hover_on_map_shows_its_documentation(editor):
    uri = uri_of("hover.cvx")
    editor.open(uri, "(map inc [1 2 3])\n")
    h = editor.run(editor.client.text_document_hover_async(T.HoverParams(
        text_document=editor.doc(uri), position=pos(0, 2))))
    text = h.contents.value
    assert h.contents.kind == T.MarkupKind.Markdown
    assert "(map f coll)" in text and "(map f coll & colls)" in text        # signatures
    assert "Calls f on corresponding elements" in text                       # description
    assert "(map inc [1 2])   ; => [2 3]" in text                             # an example
    assert "`:CAST`" in text                                                  # errors
    assert (h.range.start.character, h.range.end.character) == (1, 4)
    none = editor.run(editor.client.text_document_hover_async(T.HoverParams(
        text_document=editor.doc(uri), position=pos(0, 13))))
    assert none is None                                                       # on a number


def test_completion_after_ma_offers_map(editor):
    uri = uri_of("complete.cvx")
    diags = editor.open(uri, "(defn mangle [s] s)\n(ma")
    assert [d.message for d in diags] == ["unclosed '('"]
    items = editor.run(editor.client.text_document_completion_async(T.CompletionParams(
        text_document=editor.doc(uri), position=pos(1, 3)))).items
    labels = [i.label for i in items]
    assert "map" in labels and "mapv" in labels and "max" in labels
    assert "mangle" in labels                       # the file's own definition
    assert all(label.startswith("ma") for label in labels)
    assert "(map f coll)" in next(i.detail for i in items if i.label == "map")


def test_completion_of_an_imported_library_alias(editor):
    uri = uri_of("alias.cvx")
    editor.open(uri, "(import convex.fungible :as fungible)\n(fungible/ba)")
    items = editor.run(editor.client.text_document_completion_async(T.CompletionParams(
        text_document=editor.doc(uri), position=pos(1, 12)))).items
    assert [i.label for i in items] == ["fungible/balance"]


def test_unknown_symbols_and_core_arity_errors(editor):
    uri = uri_of("checks.cvx")
    text = ("(defn twice [x] (* 2 x))\n"
            "(defn f [a & more]\n"
            "  (let [[b c] more]\n"
            "    (+ a b c (twice a) (helper a) (count a 1) (undefined-thing))))\n"
            "(defn helper [y] (map inc))\n")
    diags = editor.open(uri, text)
    found = sorted((d.range.start.line, d.range.start.character, d.range.end.character,
                    d.severity, d.message) for d in diags)
    assert found == [
        (3, 34, 45, T.DiagnosticSeverity.Error,
         "count takes 1 argument, given 2: (count coll)"),
        (3, 47, 62, T.DiagnosticSeverity.Warning,
         "unknown symbol undefined-thing: not defined in this file, locally or in the core"),
        (4, 17, 26, T.DiagnosticSeverity.Error,
         "map takes 2 or more arguments, given 1: (map f coll) or (map f coll & colls)"),
    ]


def test_a_macro_the_file_defines_expands_the_forms_after_it(editor):
    uri = uri_of("macro.cvx")
    text = "(defmacro unless [c x] `(if ~c nil ~x))\n(unless false (inc 1))\n(unless)\n"
    diags = editor.open(uri, text)
    assert [(d.range.start.line, d.code) for d in diags] == [(2, "ARITY")]


def test_compile_errors_are_diagnostics_on_their_form(editor):
    uri = uri_of("compile.cvx")
    diags = editor.open(uri, "(def a 1)\n(let [x] x)\n")
    assert len(diags) == 1
    assert diags[0].range.start.line == 1 and diags[0].severity == T.DiagnosticSeverity.Error
    assert diags[0].message.startswith(":SYNTAX let requires a binding vector with an even")


def test_document_symbols_definition_and_juice_hints(editor):
    uri = uri_of("symbols.cvx")
    text = ("(def limit 10)\n"
            "(defn ^:callable grow [x]\n  (min limit (inc x)))\n"
            "(do (defmacro m [] 1))\n"
            "(grow 3)\n")
    editor.open(uri, text)
    syms = editor.run(editor.client.text_document_document_symbol_async(
        T.DocumentSymbolParams(text_document=editor.doc(uri))))
    assert [(s.name, s.kind, s.range.start.line, s.selection_range.start.character)
            for s in syms] == [("limit", T.SymbolKind.Variable, 0, 5),
                               ("grow", T.SymbolKind.Function, 1, 17),
                               ("m", T.SymbolKind.Function, 3, 14)]
    locs = editor.run(editor.client.text_document_definition_async(T.DefinitionParams(
        text_document=editor.doc(uri), position=pos(4, 2))))
    assert [(loc.uri, loc.range.start.line, loc.range.start.character) for loc in locs] == [
        (uri, 1, 17)]
    hints = editor.run(editor.client.text_document_inlay_hint_async(T.InlayHintParams(
        text_document=editor.doc(uri), range=T.Range(start=pos(0, 0), end=pos(9, 0)))))
    assert [(h.position.line, h.position.character) for h in hints] == [
        (0, 14), (2, 22), (3, 22), (4, 8)]
    assert all(h.label.startswith("juice ") for h in hints)
    juice = [int(h.label.split()[1].replace(",", "")) for h in hints]
    assert all(j > 0 for j in juice)
    again = editor.run(editor.client.text_document_inlay_hint_async(T.InlayHintParams(
        text_document=editor.doc(uri), range=T.Range(start=pos(0, 0), end=pos(9, 0)))))
    assert [h.label for h in again] == [h.label for h in hints]       # deterministic


def test_definition_in_the_workspace_and_the_standard_library(editor):
    uri = uri_of("lookup.cvx")
    editor.open(uri, "(import convex.fungible :as fungible)\n(fungible/build-token {})\n")
    locs = editor.run(editor.client.text_document_definition_async(T.DefinitionParams(
        text_document=editor.doc(uri), position=pos(1, 12))))
    assert [Path(loc.uri.removeprefix("file://")).name for loc in locs] == ["fungible.cvx"]
    line = locs[0].range.start.line
    assert "(defn build-token" in (ROOT / "stdlib" / "fungible.cvx").read_text().splitlines()[line]
    editor.change(uri, "(import convex.fungible :as fungible)\n(fungible/build-token {})\n"
                       "(fungible/balance *address*)\n")
    locs = editor.run(editor.client.text_document_definition_async(T.DefinitionParams(
        text_document=editor.doc(uri), position=pos(2, 12))))       # several files define it
    assert [Path(loc.uri.removeprefix("file://")).name for loc in locs] == ["fungible.cvx"]
    h = editor.run(editor.client.text_document_hover_async(T.HoverParams(
        text_document=editor.doc(uri), position=pos(1, 12))))
    assert h.contents.value.startswith("```clojure\n(fungible/build-token config)\n```")
    assert "Code for a new fungible token actor" in h.contents.value


def test_formatting_edits_the_whole_document(editor):
    uri = uri_of("format.cvx")
    editor.open(uri, "(defn f [x]\n(inc x)  )  ; note\n")
    edits = editor.run(editor.client.text_document_formatting_async(T.DocumentFormattingParams(
        text_document=editor.doc(uri), options=T.FormattingOptions(tab_size=2,
                                                                   insert_spaces=True))))
    assert len(edits) == 1
    assert edits[0].new_text == "(defn f [x]\n  (inc x))  ; note\n"
    assert (edits[0].range.start.line, edits[0].range.end.line) == (0, 2)
    editor.change(uri, "(defn f [x]\n  (inc x))  ; note\n")
    assert list(editor.run(editor.client.text_document_formatting_async(
        T.DocumentFormattingParams(text_document=editor.doc(uri), options=T.FormattingOptions(
            tab_size=2, insert_spaces=True))))) == []


def test_juice_hints_can_be_turned_off():
    quiet = Editor(ROOT, {"juiceHints": False})
    try:
        uri = uri_of("quiet.cvx")
        quiet.open(uri, "(def a 1)\n(inc a)\n")
        hints = quiet.run(quiet.client.text_document_inlay_hint_async(T.InlayHintParams(
            text_document=quiet.doc(uri), range=T.Range(start=pos(0, 0), end=pos(3, 0)))))
        assert list(hints) == []
    finally:
        quiet.close()
