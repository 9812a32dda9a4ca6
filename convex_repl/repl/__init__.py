"""The interactive REPL: prompt, commands, rendering, local and remote workspaces, the tutor.
Imports convex_repl's public API (api, home, lexer), client, insight, kernel, lisp and stdlib; never the CLI or the peer.
Every workspace (local CVM, peer, local network) implements interface.WorkspaceAPI."""
from convex_repl.repl.app import Repl
from convex_repl.repl.commands import COMMANDS, Quit, command
from convex_repl.repl.completion import Completions
from convex_repl.repl.forms import indent_for, is_complete, open_brackets
from convex_repl.repl.interface import SessionView, Unsupported, WorkspaceAPI
from convex_repl.repl.prompt import run_repl
from convex_repl.repl import remote, local  # they register :connect, :disconnect, :local
from convex_repl.repl import insight_commands  # noqa: F401  (:trace :explain :debug :break)

__all__ = ["Repl", "run_repl", "is_complete", "indent_for", "open_brackets", "Completions",
           "COMMANDS", "command", "Quit", "Unsupported", "WorkspaceAPI", "SessionView",
           "remote", "local"]
