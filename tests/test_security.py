"""Who can reach the app, who can log in, and what an upload can do.

(No code-executing loader: test_index_damage.py. Document text never markup: test_ui.py,
test_ui_browser.py and test_properties.py.)
"""

import json
import logging
import socket
import urllib.error
import urllib.request

import pytest

from docqa import config
from docqa.chunking import ChunkingParams
from docqa.cli import build_parser, main
from docqa.errors import DocqaError
from docqa.pipeline import Pipeline
from docqa.ui import is_loopback, serve
from docqa.uploads import MAX_UPLOAD_BYTES, UploadRejected, add_documents, check_upload

from builders import make_pdf
from test_bad_files import BINARIES
from servers import free_port


@pytest.fixture
def pipeline(small_corpus, tmp_path, embedder):
    pipeline = Pipeline(small_corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    return pipeline


def other_addresses() -> list[str]:
    """This machine's addresses that are not loopback ones: its name's, and the one it would route out from."""
    found = set()
    try:
        found |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # connecting a UDP socket sends nothing
        try:
            probe.connect(("10.255.255.255", 1))
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(address for address in found if not is_loopback(address) and address != "0.0.0.0")


def http(url: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# ---------------------------------------------------------------- where the app listens

def test_the_app_listens_on_loopback_by_default_and_refuses_oversized_uploads(pipeline, monkeypatch):
    monkeypatch.delenv("DOCQA_AUTH", raising=False)
    monkeypatch.delenv("DOCQA_AUTH_FILE", raising=False)
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    port = free_port()
    app = serve(pipeline, port=port, block=False)
    try:
        assert app.server_name == "127.0.0.1"
        assert http(f"http://127.0.0.1:{port}/") == 200
        addresses = other_addresses()
        for address in addresses:  # not reachable from the network
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
                pass
        # the server itself refuses an upload over the limit before any handler sees it
        import httpx

        upload = f"http://127.0.0.1:{port}/gradio_api/upload"
        response = httpx.post(upload, files={"files": ("big.txt", b"x" * (MAX_UPLOAD_BYTES + 1), "text/plain")}, timeout=60)
        assert response.status_code == 413 and "maximum allowed size" in response.text
        assert httpx.post(upload, files={"files": ("small.txt", b"hello", "text/plain")}, timeout=60).status_code == 200
    finally:
        app.close()


class FakeApp:
    def __init__(self):
        self.launched = {}

    def queue(self, **kwargs):
        return self

    def launch(self, **kwargs):
        self.launched = kwargs


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                          ("0.0.0.0", True), ("::", True), ("192.168.1.20", True), ("myhost", True)])
def test_listening_elsewhere_without_authentication_warns(pipeline, monkeypatch, caplog, host, warned):
    monkeypatch.delenv("DOCQA_AUTH", raising=False)
    monkeypatch.delenv("DOCQA_AUTH_FILE", raising=False)
    fake = FakeApp()
    monkeypatch.setattr("docqa.ui.build_ui", lambda pipeline: fake)
    with caplog.at_level(logging.WARNING, logger="docqa.ui"):
        serve(pipeline, host=host, port=7999)
    warnings = [r.getMessage() for r in caplog.records if "without authentication" in r.getMessage()]
    assert bool(warnings) == warned
    if warned:
        assert f"listening on {host} without authentication" in warnings[0] and "DOCQA_AUTH=user:password" in warnings[0]
    assert fake.launched["server_name"] == host and fake.launched["auth"] is None

    caplog.clear()
    monkeypatch.setenv("DOCQA_AUTH", "alice:s3cret")  # with a login, no warning
    with caplog.at_level(logging.WARNING, logger="docqa.ui"):
        serve(pipeline, host=host, port=7999)
    assert not [r for r in caplog.records if "without authentication" in r.getMessage()]
    assert fake.launched["auth"]("alice", "s3cret") and not fake.launched["auth"]("alice", "wrong")


# ---------------------------------------------------------------- logging in

def test_credentials_come_from_the_environment_or_a_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCQA_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCQA_AUTH", raising=False)
    assert config.auth_credentials() == []
    monkeypatch.setenv("DOCQA_AUTH", "alice:pass:with:colons")
    assert config.auth_credentials() == [("alice", "pass:with:colons")]
    users = tmp_path / "users"
    users.write_text("# the team\nbob:hunter2\n\n  carol:correct horse  \n", encoding="utf-8")
    monkeypatch.setenv("DOCQA_AUTH_FILE", str(users))
    assert config.auth_credentials() == [("alice", "pass:with:colons"), ("bob", "hunter2"), ("carol", "correct horse")]
    users.write_text("bob\n", encoding="utf-8")
    with pytest.raises(DocqaError, match=r"users, line 1: expected user:password"):
        config.auth_credentials()
    monkeypatch.setenv("DOCQA_AUTH_FILE", str(tmp_path / "missing"))
    with pytest.raises(DocqaError, match="cannot be read"):
        config.auth_credentials()


def test_serve_with_malformed_credentials_stops_with_the_fix(monkeypatch, small_corpus, tmp_path, embedder, capsys):
    monkeypatch.setenv("DOCQA_AUTH", "nopassword")
    code = main(["serve", "--corpus", str(small_corpus), "--index", str(tmp_path / "index")], embedder=embedder)
    assert code == 1 and "DOCQA_AUTH: expected user:password" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()  # it stopped before indexing


def test_with_auth_on_an_unauthenticated_request_is_refused(pipeline, monkeypatch):
    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with the dev extra")
    monkeypatch.setenv("DOCQA_AUTH", "alice:s3cret")
    port = free_port()
    app = serve(pipeline, port=port, block=False)
    base = f"http://127.0.0.1:{port}"
    try:
        assert http(f"{base}/config") == 401
        assert http(f"{base}/gradio_api/info") == 401
        assert http(f"{base}/gradio_api/call/ask", json.dumps({"data": ["Who hosted the first meeting?", 3, ""]}).encode()) == 401
        assert http(f"{base}/gradio_api/upload", b"--x--") == 401
        with pytest.raises(Exception):
            gradio_client.Client(base + "/", verbose=False)
        with pytest.raises(Exception):
            gradio_client.Client(base + "/", auth=("alice", "wrong"), verbose=False)
        client = gradio_client.Client(base + "/", auth=("alice", "s3cret"), verbose=False)
        record = client.predict("Who hosted the first meeting?", 3, "", api_name="/ask")
        assert record["citations"][0]["quote"] == "The first meeting was hosted by the German Foreign Office."
    finally:
        app.close()


# ---------------------------------------------------------------- uploads

@pytest.mark.parametrize("name, data, words", [
    ("notes.txt", BINARIES["png"], "its content is a PNG image, not .txt text; remove it"),
    ("notes.txt", BINARIES["pdf"], "its content is a PDF document, not .txt text; rename it to .pdf"),
    ("page.html", BINARIES["elf"], "its content is a program"),
    ("page.html", b"<p>text</p>\x00\x01", "NUL bytes"),
    ("report.pdf", b"Only text, named .pdf", "not a readable PDF (no %PDF- header"),
    ("report.docx", BINARIES["zip"], "not a readable Word .docx file"),
    ("report.docx", make_pdf([["x"]]), "its content is a PDF document"),
])
def test_an_upload_is_checked_by_its_content_as_well_as_its_name(tmp_path, name, data, words):
    with pytest.raises(UploadRejected, match=words.replace("(", r"\(").replace(".", r"\.")):
        check_upload(name, data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_upload_cannot_write_through_a_link_out_of_the_corpus(pipeline, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious", encoding="utf-8")
    (pipeline.corpus_dir / "notes.txt").symlink_to(outside)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "notes.txt").write_text("The replacement text.", encoding="utf-8")
    report = add_documents(pipeline, [str(uploads / "notes.txt")], replace=True)
    assert "would land outside the corpus folder" in report
    assert outside.read_text(encoding="utf-8") == "precious"


@pytest.mark.parametrize("target", ["a file", "a folder of other files", "a folder with a manifest of its own",
                                    "a new folder, but no corpus"])
def test_commands_given_an_index_that_is_not_docqa_s_create_nothing_beside_it(small_corpus, tmp_path, embedder,
                                                                               capsys, monkeypatch, target):
    # `docqa ask --index /etc/passwd` once created /etc/.passwd.lock
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    place = tmp_path / "place"
    place.mkdir()
    index = {"a file": place / "passwd", "a folder of other files": place / "project",
             "a folder with a manifest of its own": place / "app", "a new folder, but no corpus": place / "index"}[target]
    if target == "a file":
        index.write_text("root:x:0:0\n")
    elif target != "a new folder, but no corpus":
        index.mkdir()
        (index / ("manifest.json" if target.endswith("own") else "notes.txt")).write_text('{"name": "my web app"}')
        (index / "data.txt").write_text("mine")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    corpus = tmp_path / "no corpus" if target == "a new folder, but no corpus" else small_corpus
    for argv in (["ask", "Who hosted the first meeting?"], ["search", "meeting"], ["index"], ["index", "--rebuild"]):
        assert main([*argv, "--corpus", str(corpus), "--index", str(index)], embedder=embedder) == 1
    capsys.readouterr()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
