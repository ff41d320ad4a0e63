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
    (lambda d: truncate(d / "vectors.faiss"), r"vectors\.faiss is [\d,]+ bytes but the manifest says [\d,]+ \(truncated"),
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



def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


WRONG_TYPES = {  # valid JSON, as a hand edit or a tamperer may leave it: each a line of the manifest replaced
    "settings a list": lambda m: m.update(settings=[]),
    "embedding a string": lambda m: m["settings"].update(embedding="MiniLM"),
    "counts a string": lambda m: m.update(counts="x"),
    "chunk count a string": lambda m: m["counts"].update(chunks="3"),
    "corpus null": lambda m: m.update(corpus=None),
    "corpus files a list": lambda m: m["corpus"].update(files=["meetings.txt"]),
    "skipped reason a number": lambda m: m["corpus"].update(skipped={"a.png": 1}),
    "files a list": lambda m: m.update(files=["a"]),
    "a NUL in a file name": lambda m: m["files"].update({"bm25/x\u0000y.npy": {"bytes": 1, "sha256": "0" * 64}}),
    "a size as a string": lambda m: m["files"]["vectors.faiss"].update(bytes=str(m["files"]["vectors.faiss"]["bytes"])),
    "search depth a string": lambda m: m.update(vectors={"index": "hnsw", "storage": "float32", "ef_search": "deep"}),
    "nested deeply": lambda m: m.update(libraries="NESTED"),
}


def edit_manifest(index_dir: Path, edit) -> None:
    manifest = json.loads((index_dir / "manifest.json").read_text())
    edit(manifest)
    (index_dir / "manifest.json").write_text(json.dumps(manifest).replace('"NESTED"', nested(100_000)))


@pytest.mark.parametrize("edit", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_manifest_with_wrong_types_is_named_with_the_fix(index_dir, small_corpus, embedder, edit):
    from docqa.index import read_manifest, settings_for, stale_reasons

    edit_manifest(index_dir, edit)
    for load in (load_index, read_manifest,
                 lambda d: stale_reasons(d, small_corpus, settings_for(embedder, ChunkingParams(40, 8)))):
        with pytest.raises(CorruptIndex, match=r"manifest .*; run `docqa index --rebuild`"):
            load(index_dir)


@pytest.mark.parametrize("edit", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_the_cli_refuses_a_mistyped_manifest_and_index_rebuilds_it(small_corpus, tmp_path, capsys, monkeypatch, edit):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    paths = ["--corpus", str(small_corpus), "--index", str(tmp_path / "index")]
    embedder = HashingEmbedder()
    assert main(["index", *paths], embedder=embedder) == 0
    edit_manifest(tmp_path / "index", edit)
    capsys.readouterr()
    assert main(["ask", "Who hosted the first meeting?", *paths], embedder=embedder) == 1
    out, err = capsys.readouterr()
    assert out == "" and REBUILD in err and len(err.splitlines()) == 1
    assert main(["index", *paths], embedder=embedder) == 0  # `docqa index` rebuilds what it cannot read
    out, err = capsys.readouterr()
    assert out.startswith("indexed 3 documents") and "manifest" in err and "building it again" in err
    assert main(["ask", "Who hosted the first meeting?", *paths], embedder=embedder) == 0
    assert "German Foreign Office" in capsys.readouterr().out


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


def test_the_cli_names_the_damage_and_the_fix_then_index_repairs_it(small_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCQA_NO_PROGRESS", "1")
    paths = ["--corpus", str(small_corpus), "--index", str(tmp_path / "index")]
    embedder = HashingEmbedder()
    assert main(["index", *paths], embedder=embedder) == 0
    truncate(tmp_path / "index" / "vectors.faiss")
    capsys.readouterr()
    assert main(["ask", "Who hosted the first meeting?", *paths], embedder=embedder) == 1
    out, err = capsys.readouterr()
    assert out == "" and "vectors.faiss is" in err and REBUILD in err and "Traceback" not in err
    # `docqa index` builds again what it cannot read, saying why
    assert main(["index", *paths], embedder=embedder) == 0
    out, err = capsys.readouterr()
    assert "vectors.faiss is" in err and "building it again" in err and out.startswith("indexed 3 documents")
    truncate(tmp_path / "index" / "vectors.faiss")
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


def replace_array(path: Path, change) -> None:
    np.save(path, change(np.load(path, allow_pickle=False)), allow_pickle=False)


@pytest.mark.parametrize("damage, words", [
    (lambda d: replace_array(d / "sentences" / "vectors.npy", lambda a: np.zeros((len(a), 32), a.dtype)),
     "sentence vectors are 32 wide"),
    (lambda d: replace_array(d / "sentences" / "spans.npy", lambda a: a + 10_000), "sentence spans"),
    (lambda d: replace_array(d / "sentences" / "offsets.npy", lambda a: a[[0, 2, 1, *range(3, len(a))]]), "sentence offsets"),
    (lambda d: replace_array(d / "bm25" / "indices.csc.index.npy", lambda a: a + 1_000), "keyword index"),
    (lambda d: replace_array(d / "bm25" / "indptr.csc.index.npy", lambda a: a[: len(a) // 2].copy()), "keyword index"),
    (lambda d: replace_array(d / "bm25" / "data.csc.index.npy", lambda a: np.full_like(a, np.nan)), "keyword index"),
])
def test_arrays_of_the_wrong_shape_or_range_are_refused_at_load(index_dir, damage, words):
    # a tamperer who rewrites the checksums: the arrays load, and would fail or mislead at question time
    damage(index_dir)
    rewrite_checksums(index_dir)
    with pytest.raises(CorruptIndex, match=words) as raised:
        load_index(index_dir)
    assert REBUILD in str(raised.value)
