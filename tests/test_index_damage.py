"""A damaged index is named, with the fix, never loaded: truncated, edited, disagreeing with
its manifest, or tampered with to run code (the index has no loader that can)."""

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, HashingEmbedder
from docqa.build import build_index
from docqa.chunking import ChunkingParams
from docqa.cli import main
from docqa.errors import CorruptIndex
from docqa.index import load_index

REBUILD = "docqa index --rebuild"


@pytest.fixture
def index_dir(small_corpus, tmp_path, embedder):
    build_index(small_corpus, tmp_path / "index", embedder, ChunkingParams(40, 8))
    return tmp_path / "index"


def rewrite_checksums(index_dir: Path) -> None:
    """What a careful tamperer would do: make the manifest agree with the edited files."""
    manifest = json.loads((index_dir / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (index_dir / name).read_bytes()
        manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (index_dir / "manifest.json").write_text(json.dumps(manifest))


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("damage, words", [
    (lambda d: truncate(d / "vectors.faiss"), r"vectors\.faiss is [\d,]+ bytes but the manifest says \d+ \(truncated"),
    (lambda d: truncate(d / "chunks.jsonl", 0.9), r"chunks\.jsonl is [\d,]+ bytes but the manifest says"),
    (lambda d: (d / "chunks.jsonl").write_text((d / "chunks.jsonl").read_text().replace("Microsoft", "Macrosoft")),
     r"chunks\.jsonl does not match the sha256 in the manifest \(edited"),
    (lambda d: (d / "documents.jsonl").unlink(), r"documents\.jsonl is missing"),
    (lambda d: truncate(next((d / "bm25").glob("*.npy"))), r"bm25/\S+\.npy is [\d,]+ bytes"),
    (lambda d: (d / "manifest.json").write_text("{\"settings\": "), r"manifest .* is unreadable"),
    (lambda d: (d / "manifest.json").write_text("[1, 2]"), r"manifest .* is not a JSON object"),
])
def test_damage_is_named_with_the_fix(index_dir, damage, words):
    damage(index_dir)
    with pytest.raises(CorruptIndex, match=words) as raised:
        load_index(index_dir)
    assert REBUILD in str(raised.value)


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.pop("files"), "its manifest lists no checksums"),
    (lambda m: m["files"].pop("chunks.jsonl"), "lists no checksum for chunks.jsonl"),
    (lambda m: m["files"]["vectors.faiss"].update(sha256="0" * 64), r"vectors\.faiss does not match the sha256"),
    (lambda m: m["files"].update({"../../etc/passwd": {"bytes": 1, "sha256": "0"}}), "entry for '../../etc/passwd' is malformed"),
    (lambda m: m["counts"].update(chunks=m["counts"]["chunks"] + 1), r"is inconsistent \(\d+ vectors, \d+ chunks"),
    (lambda m: m["settings"]["embedding"].update(dimension=32), "is inconsistent"),
])
def test_a_manifest_that_disagrees_with_the_files_is_named(index_dir, edit, words):
    manifest = json.loads((index_dir / "manifest.json").read_text())
    edit(manifest)
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndex, match=words) as raised:
        load_index(index_dir)
    assert REBUILD in str(raised.value)


def test_consistent_edits_with_fresh_checksums_are_still_caught_or_harmless(index_dir):
    # Files damaged and the manifest made to agree: the loaders themselves refuse, without crashing.
    truncate(index_dir / "vectors.faiss")
    rewrite_checksums(index_dir)
    with pytest.raises(CorruptIndex, match=r"is damaged \(.*\); run `docqa index --rebuild`"):
        load_index(index_dir)


def test_an_edited_chunk_never_becomes_a_wrong_quote(index_dir):
    # The chunk's text edited to the same length, checksums rewritten: its document disagrees.
    path = index_dir / "chunks.jsonl"
    path.write_text(path.read_text().replace("Microsoft", "Macrosoft"))
    rewrite_checksums(index_dir)
    with pytest.raises(CorruptIndex, match="does not match its document"):
        load_index(index_dir)


def test_a_pickle_planted_in_the_index_is_refused_not_run(index_dir, tmp_path):
    """An object array saved with pickle in place of a BM25 array: loading refuses it, nothing runs."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    target = next((index_dir / "bm25").glob("data*.npy"))
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    target.write_bytes(buffer.getvalue())
    rewrite_checksums(index_dir)
    with pytest.raises(CorruptIndex, match="damaged"):
        load_index(index_dir)
    assert not marker.exists()


def test_the_cli_names_the_damage_and_the_fix_then_rebuild_repairs_it(small_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    paths = ["--corpus", str(small_corpus), "--index", str(tmp_path / "index")]
    embedder = HashingEmbedder()
    assert main(["index", *paths], embedder=embedder) == 0
    truncate(tmp_path / "index" / "vectors.faiss")
    capsys.readouterr()
    for argv in (["ask", "Who hosted the first meeting?", *paths], ["index", *paths]):
        assert main(argv, embedder=embedder) == 1
        out, err = capsys.readouterr()
        assert out == "" and "vectors.faiss is" in err and REBUILD in err and "Traceback" not in err
    assert main(["index", "--rebuild", *paths], embedder=embedder) == 0
    assert main(["ask", "Who hosted the first meeting?", *paths], embedder=embedder) == 0
    assert "German Foreign Office" in capsys.readouterr().out


FORBIDDEN = re.compile(r"\bpickle\b|allow_pickle\s*=\s*True|torch\.load|(?<![.\w])eval\(|(?<![.\w])exec\(|yaml\.load\(|\bmarshal\b|"
                       r"\bshelve\b|\bjoblib\b|dill\b|cloudpickle|trust_remote_code\s*=\s*True")


def test_no_code_executing_loader_anywhere():
    sources = [p for p in (ROOT / "src" / "docqa").rglob("*.py")]
    offending = [f"{p.name}:{n}: {line.strip()}" for p in sources
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if FORBIDDEN.search(line) and "no pickle" not in line.lower() and "No pickle" not in line]
    assert offending == []
    # numpy arrays are loaded with allow_pickle=False, and the model's weights are safetensors, not a pickle
    assert "allow_pickle=False" in (ROOT / "src" / "docqa" / "lexical.py").read_text()
    from docqa.embedding import model_path

    names = {p.name for p in model_path().iterdir()}
    assert "model.safetensors" in names and not names & {"pytorch_model.bin", "model.ckpt", "flax_model.msgpack"}
