"""`convex lsp`, `convex fmt` and `convex jupyter`: Convex Lisp in editors and notebooks (the
language server and formatter of convex_repl.editor, the kernel of convex_repl.jupyter)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from convex_repl.cli.base import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, Fail, app


@app.command("lsp")
def lsp_cmd() -> None:
    """The Convex Lisp language server on stdin/stdout (for VS Code, Neovim, Emacs...):
    diagnostics, completion, hover docs, go to definition, symbols, formatting, juice hints."""
    from convex_repl.editor.lsp import main
    main()


def _cvx_files(paths: list) -> list:
    out: list = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(f for f in path.rglob("*.cvx")
                              if not any(part.startswith(".") for part in f.parts)))
        elif path.is_file():
            out.append(path)
        else:
            raise Fail(f"no such file or directory: {p}", EXIT_NOT_FOUND, "IO")
    return out


@app.command("fmt")
def fmt_cmd(
    paths: List[str] = typer.Argument(..., help="Files or directories (their .cvx files)."),
    check: bool = typer.Option(False, "--check", help="Change nothing: list the files that "
                               "are not formatted and exit 1 if there are any (for CI)."),
) -> None:
    """Format Convex Lisp files in place (cljfmt's rules: indentation, spacing, blank
    lines; comments and line breaks kept). Idempotent; the forms never change."""
    from lisp import ReaderError
    from lisp.source import syntax_error_line
    from convex_repl.editor.fmt import FormatError, format_text
    files = _cvx_files(paths)
    changed, bad = [], 0
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            typer.echo(f"convex: error: {f}: can't read: {e}", err=True)
            bad += 1
            continue
        try:
            new = format_text(text)
        except ReaderError as e:
            typer.echo(f"convex: error: {syntax_error_line(str(f), e)}", err=True)
            bad += 1
            continue
        except FormatError as e:
            typer.echo(f"convex: error: {f}: {e}", err=True)
            bad += 1
            continue
        if new == text:
            continue
        changed.append(f)
        if check:
            typer.echo(f"would reformat {f}")
        else:
            f.write_text(new, encoding="utf-8")
            typer.echo(f"formatted {f}")
    verb = "would be reformatted" if check else "reformatted"
    typer.echo(f"{len(files)} file{'s' if len(files) != 1 else ''} checked, {len(changed)} "
               f"{verb}" + (f", {bad} could not be read" if bad else ""), err=True)
    if bad:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_FAILED if check and changed else EXIT_OK)


jupyter_app = typer.Typer(help="The Convex Lisp Jupyter kernel.", no_args_is_help=True)
app.add_typer(jupyter_app, name="jupyter")


@jupyter_app.command("install")
def jupyter_install(
    user: bool = typer.Option(False, "--user", help="Install for this user only "
                              "(~/.local/share/jupyter), not for this Python environment."),
    prefix: Optional[Path] = typer.Option(None, "--prefix", help="Install under this "
                                          "prefix's share/jupyter.", show_default=False),
    name: str = typer.Option("convex", "--name", help="Kernel name (one per kind of "
                             "session: convex, convex-peer...)."),
    fork: bool = typer.Option(False, "--fork", help="Notebooks start from a copy of the "
                              "saved session (~/.convex), which they never change."),
) -> None:
    """Install the kernel spec: each notebook is then a session of its own (a fresh local
    CVM; a copy of the saved session with --fork; with --url URL, or CONVEX_URL, as for
    every command, the peer there)."""
    from convex_repl.client.remote import resolve_url
    from convex_repl.jupyter.install import install
    url = resolve_url()                 # --url became CONVEX_URL (base._take_url)
    if url and fork:
        raise Fail("--url and --fork exclude each other", EXIT_USAGE, "USAGE")
    try:
        where = install(user=user, prefix=prefix, name=name, url=url, fork=fork)
    except OSError as e:
        raise Fail(f"can't install the kernel spec: {e}", EXIT_NOT_FOUND, "IO") from None
    typer.echo(f"installed kernel {name!r} in {where}")


@jupyter_app.command("notebook")
def jupyter_notebook(
    lesson: int = typer.Argument(..., help="The lesson's number (convex tutorial --list)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write it "
                                       "(default: notebooks/<lesson>.ipynb).",
                                       show_default=False),
) -> None:
    """Write a lesson as a notebook for the Convex kernel: its text as Markdown, each input
    of its transcripts as a code cell (the result the lesson shows in the cell's
    metadata)."""
    from convex_repl.jupyter.notebook import notebook_path, notebook_text
    from convex_repl.repl import tutorial as tut
    found = [ls for ls in tut.load_lessons() if ls.number == lesson]
    if not found:
        raise Fail(f"no lesson {lesson} (convex tutorial --list)", EXIT_NOT_FOUND, "NOT_FOUND")
    path = out or notebook_path(found[0], Path("notebooks"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(notebook_text(found[0]), encoding="utf-8")
    except OSError as e:
        raise Fail(f"can't write {path}: {e}", EXIT_NOT_FOUND, "IO") from None
    typer.echo(f"wrote {path}")
