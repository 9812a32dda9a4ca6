"""The Convex Jupyter kernel, installed with `convex jupyter install` and driven through
jupyter_client as a notebook front end drives it (one kernel for the module: a kernel
start takes a second or two), and the lesson-1 notebook executed with nbclient."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from convex_repl.jupyter.notebook import notebook_path, notebook_text
from convex_repl.repl import tutorial as tut
from convex_repl.repl.lessons import matches
from convex_repl.repl.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def convex(*args):
    """The convex command, with no peer chosen by the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONVEX_URL", "CONVEX_PROFILE")}
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyter")
    r = convex("jupyter", "install", "--prefix", str(base / "prefix"))
    assert r.returncode == 0, r.stderr
    kernels = base / "prefix" / "share" / "jupyter" / "kernels"
    assert r.stdout.strip() == f"installed kernel 'convex' in {kernels / 'convex'}"
    km = KernelManager(kernel_name="convex",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    km.start_kernel(env=dict(os.environ, CONVEX_HOME=str(base / "home")), cwd=str(base))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    yield km, kc, base
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def run(kc, code: str) -> tuple:
    """(reply content, [(msg_type, content)] of the outputs) of one cell."""
    outs: list = []
    reply = kc.execute_interactive(code, timeout=TIMEOUT, output_hook=lambda m: outs.append(
        (m["msg_type"], m["content"])))
    return reply["content"], [o for o in outs if o[0] in ("execute_result", "display_data",
                                                         "stream", "error")]


def test_installed_spec_runs_this_python_as_the_kernel(kernel):
    _, _, base = kernel
    spec = KernelSpecManager(kernel_dirs=[str(base / "prefix/share/jupyter/kernels")]) \
        .get_kernel_spec("convex")
    assert spec.argv[:3] == [sys.executable, "-m", "convex_repl.jupyter"]
    assert spec.language == "convex" and spec.display_name == "Convex Lisp"


def test_a_cell_returns_its_value_with_its_cost(kernel):
    _, kc, _ = kernel
    reply, outs = run(kc, "(+ 1 2)")
    assert reply["status"] == "ok"
    kinds = [k for k, _ in outs]
    assert kinds == ["execute_result", "display_data"]
    result, badge = outs[0][1], outs[1][1]
    assert result["data"]["text/plain"] == "3"
    cost = result["metadata"]["convex"]["cost"]
    expected = Workspace(None, fresh=True, save=False).transact("(+ 1 2)")   # same transaction
    assert cost["juice"] == expected.juice > 0 and cost["fee"] == expected.fee > 0
    text = badge["data"]["text/plain"]
    assert text.startswith(f"juice {expected.juice:,} · fee {expected.fee:,} coins · memory ")
    assert badge["metadata"]["convex"]["cost"] == cost


def test_cells_share_one_session_and_errors_are_cell_errors(kernel):
    _, kc, _ = kernel
    assert run(kc, "(def langs [\"Lisp\" \"Python\"])")[0]["status"] == "ok"
    reply, outs = run(kc, "(count langs 42)")
    assert reply["status"] == "error" and reply["ename"] == ":ARITY"
    err = [c for k, c in outs if k == "error"][0]
    assert err["ename"] == ":ARITY"
    assert err["traceback"][0].startswith("Error :ARITY")
    assert any(t.startswith("at <input>:1:1") for t in err["traceback"])   # where, as the REPL
    assert [k for k, _ in outs][-1] == "display_data"                       # the badge
    reply, outs = run(kc, "(count langs)")
    assert outs[0][1]["data"]["text/plain"] == "2"                          # nothing changed


def test_repl_commands_work_in_cells(kernel):
    _, kc, _ = kernel
    reply, outs = run(kc, ":doc count")
    text = "".join(c["text"] for k, c in outs if k == "stream")
    assert reply["status"] == "ok"
    assert "(count coll)" in text and "The number of elements" in text
    run(kc, ":mode query")
    run(kc, "(def temporary 1)")
    run(kc, ":mode transact")
    reply, outs = run(kc, "temporary")
    assert reply["status"] == "error" and reply["ename"] == ":UNDECLARED"


def test_long_values_are_cut_as_in_the_repl_and_more_shows_them(kernel):
    _, kc, _ = kernel
    reply, outs = run(kc, "[" + " ".join(map(str, range(100))) + "]")
    shown = outs[0][1]["data"]["text/plain"].split("\n")
    assert reply["status"] == "ok" and len(shown) == 40 and shown[0] == "[0"
    notes = [c["text"] for k, c in outs if k == "stream"]
    assert notes == ["… 60 more lines: :more shows all\n"]
    reply, outs = run(kc, ":more")
    assert outs[0][1]["data"]["text/plain"].split("\n")[-1] == " 99]"


def test_completion_and_inspection(kernel):
    _, kc, _ = kernel
    msg = kc.complete("(ma", 3, reply=True, timeout=TIMEOUT)["content"]
    assert "map" in msg["matches"] and all(m.startswith("ma") for m in msg["matches"])
    assert (msg["cursor_start"], msg["cursor_end"]) == (1, 3)
    msg = kc.complete(":do", 3, reply=True, timeout=TIMEOUT)["content"]
    assert msg["matches"] == [":doc"]
    msg = kc.inspect("(map inc [1])", 2, reply=True, timeout=TIMEOUT)["content"]
    assert msg["found"]
    assert msg["data"]["text/plain"].startswith("(map f coll)\n(map f coll & colls)\n")
    assert "(map inc [1 2])   ; => [2 3]" in msg["data"]["text/markdown"]
    msg = kc.inspect("(no-such-thing)", 3, reply=True, timeout=TIMEOUT)["content"]
    assert msg["found"] is False
    kc.is_complete("(+ 1")
    assert kc.get_shell_msg(timeout=TIMEOUT)["content"]["status"] == "incomplete"
    kc.is_complete("(+ 1 2)")
    assert kc.get_shell_msg(timeout=TIMEOUT)["content"]["status"] == "complete"


def lesson_one():
    return next(ls for ls in tut.load_lessons() if ls.number == 1)


def test_the_lesson_notebook_is_generated_from_the_lesson():
    lesson = lesson_one()
    path = notebook_path(lesson, ROOT / "notebooks")
    assert path.read_text() == notebook_text(lesson), \
        "notebooks/ is stale: run `convex jupyter notebook 1`"
    nb = nbformat.reads(path.read_text(), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == [s.input for s in lesson.local_steps]


def _printed(outputs: list) -> tuple:
    """The lines a cell printed (the cost badge aside) and whether it failed."""
    lines, error = [], False
    for o in outputs:
        if o.output_type == "execute_result":
            lines += o.data["text/plain"].split("\n")
        elif o.output_type == "stream":
            lines += o.text.rstrip("\n").split("\n")
        elif o.output_type == "error":
            error = True
            lines += "\n".join(o.traceback).split("\n")
    return lines, error


def test_the_lesson_notebook_runs_and_shows_the_lessons_results(kernel):
    km, _, _ = kernel
    nb = nbformat.reads(notebook_text(lesson_one()), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(":reset"))       # a fresh session
    NotebookClient(nb, km=km, timeout=TIMEOUT, allow_errors=False).execute()
    checked = 0
    for cell in nb.cells[1:]:
        if cell.cell_type != "code":
            continue
        expected = cell.metadata["convex"]["expected"]
        lines, error = _printed(cell.outputs)
        assert error == expected.startswith("Error :"), cell.source
        assert matches(expected, lines, error), (cell.source, expected, lines)
        badges = [o for o in cell.outputs if o.output_type == "display_data"]
        assert len(badges) == 1 and badges[0].data["text/plain"].startswith("juice ")
        checked += 1
    assert checked == len(lesson_one().local_steps) > 20


def test_a_notebook_can_start_from_a_copy_of_the_saved_session(tmp_path, monkeypatch):
    from convex_repl.jupyter.kernel import make_workspace
    home = tmp_path / "home"
    home.mkdir()
    saved = Workspace(home, fresh=True, save=True)
    assert saved.transact("(def kept 7)").ok
    saved.save()
    before = (home / "session.json").read_text()
    monkeypatch.setenv("CONVEX_HOME", str(home))
    fork = make_workspace("fork", None)
    fresh = make_workspace("fresh", None)
    assert fork.query("kept").value == 7
    assert fork.transact("(def kept 8)").ok
    assert (home / "session.json").read_text() == before          # never saved back
    assert fresh.query("kept").error == "UNDECLARED"


def test_a_notebook_connected_to_a_peer_works_against_its_url():
    from convex_repl.jupyter.kernel import make_workspace
    ws = make_workspace("fresh", "127.0.0.1:8080")
    assert ws.remote and ws.url == "http://127.0.0.1:8080"
    assert ws.describe() == "the peer at http://127.0.0.1:8080"


def test_a_kernel_installed_with_url_works_against_that_peer(tmp_path):
    from convex_repl.repl.lessons import start_local_peer, stop_process
    proc, url = start_local_peer()
    try:
        r = convex("jupyter", "install", "--prefix", str(tmp_path), "--name", "convex-peer",
                   "--url", url)
        assert r.returncode == 0, r.stderr
        ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "share/jupyter/kernels")])
        assert ksm.get_kernel_spec("convex-peer").argv[-2:] == ["--url", url]
        km = KernelManager(kernel_name="convex-peer", kernel_spec_manager=ksm)
        km.start_kernel(env=dict(os.environ, CONVEX_HOME=str(tmp_path / "home")))
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            reply, outs = run(kc, "(def on-peer (+ 1 2))")
            assert reply["status"] == "ok", outs
            result = [c for k, c in outs if k == "execute_result"][0]
            assert result["data"]["text/plain"] == "3"
            assert result["metadata"]["convex"]["cost"]["juice"] > 0
            reply, outs = run(kc, ":connect")
            assert [c["text"] for k, c in outs if k == "stream"] == [f"connected to {url}\n"]
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        # the definition is on the peer: another client sees it
        from convex_repl.repl.remote_workspace import RemoteWorkspace
        assert RemoteWorkspace(url).query("on-peer").value == 3
    finally:
        stop_process(proc)
