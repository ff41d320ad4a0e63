"""Many people at once: 20 clients of the served app ask their own questions while an upload is
being indexed; 20 conversations go on side by side. Each gets its own answer, from the old index
or the new one, never a mix. (The same load with the real model: benchmarks/load.py.)"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import HashingEmbedder
from docqa.chunking import ChunkingParams
from docqa.pipeline import Pipeline
from docqa.ui import respond, serve
from docqa.uploads import add_documents
from servers import free_port

CLIENTS = 20
PLACES = ["Amsterdam", "Bergen", "Cairo", "Dakar", "Edinburgh", "Florence", "Geneva", "Havana", "Istanbul", "Jakarta",
          "Kyoto", "Lima", "Madrid", "Nairobi", "Oslo", "Prague", "Quito", "Riga", "Santiago", "Tunis"]
TREASURES = ["rubies", "maps", "violins", "clocks", "tapestries", "coins", "globes", "manuscripts", "masks", "compasses",
             "lanterns", "telescopes", "chess sets", "fossils", "harps", "kites", "mirrors", "quilts", "sextants", "vases"]


class SlowBuildEmbedder(HashingEmbedder):
    """The fake embedder, held in one thread only: the upload's indexing waits until a question
    has been answered meanwhile (or 30 s pass, when questions wait for the indexing)."""

    def __init__(self):
        super().__init__()
        self.slow_thread = None
        self.release = threading.Event()

    def embed(self, texts, *, progress=False):
        if threading.current_thread() is self.slow_thread:
            self.release.wait(30)
        return super().embed(texts, progress=progress)


@pytest.fixture
def museums(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for place, treasure in zip(PLACES, TREASURES):
        (corpus / f"{place.lower()}.txt").write_text(
            f"The museum of {place} keeps {treasure}. It opened long ago.", encoding="utf-8")
    embedder = SlowBuildEmbedder()
    pipeline = Pipeline(corpus, tmp_path / "index", embedder=embedder, chunking=ChunkingParams(40, 8))
    pipeline.ensure_index()
    return pipeline


def check_record(record, question, place, treasure, old_sources, new_sources):
    assert record["question"] == question  # its own question, not another client's
    assert record["answerable"], record["answer"]
    assert record["citations"][0]["source"] == f"{place.lower()}.txt"
    assert treasure in record["citations"][0]["quote"]
    sources = {p["source"] for p in record["passages"]}
    assert sources <= old_sources or sources <= new_sources  # one index or the other, never a mix


@pytest.mark.stress
def test_twenty_clients_get_their_own_answers_while_an_upload_is_indexed(museums, tmp_path):
    gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with the dev extra")
    pipeline = museums
    old_sources = set(pipeline.index.documents)
    upload = tmp_path / "uploads" / "zurich.txt"
    upload.parent.mkdir()
    upload.write_text("The museum of Zurich keeps music boxes. It opened recently.", encoding="utf-8")
    new_sources = old_sources | {"zurich.txt"}

    port = free_port()
    app = serve(pipeline, port=port, block=False)
    try:
        clients = list(ThreadPoolExecutor(CLIENTS).map(
            lambda _: gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False), range(CLIENTS)))
        upload_window = {}

        def upload_now():
            pipeline.embedder.slow_thread = threading.current_thread()
            upload_window["start"] = time.monotonic()
            upload_window["report"] = add_documents(pipeline, [str(upload)])
            upload_window["end"] = time.monotonic()

        def ask(number):
            place, treasure = PLACES[number], TREASURES[number]
            answered = []
            for round_ in range(2):
                question = f"What does the museum of {place} keep?" + " Please." * round_
                started = time.monotonic()
                record = clients[number].predict(question, 3, "", api_name="/ask")
                answered.append((started, time.monotonic()))
                if "start" in upload_window and started > upload_window["start"]:
                    pipeline.embedder.release.set()  # answered while the upload is being indexed
                check_record(record, question, place, treasure, old_sources, new_sources)
            return answered

        uploader = threading.Thread(target=upload_now)
        uploader.start()
        time.sleep(0.05)
        with ThreadPoolExecutor(CLIENTS) as pool:
            timings = [t for result in pool.map(ask, range(CLIENTS)) for t in result]
        uploader.join(60)
        assert "added zurich\\.txt" in upload_window["report"]
        # questions were answered while the upload was being indexed, not held until it ended
        during = [end for start, end in timings if upload_window["start"] < start and end < upload_window["end"]]
        assert during, "every question waited for the upload's indexing"
        record = clients[0].predict("What does the museum of Zurich keep?", 3, "", api_name="/ask")
        assert record["citations"][0]["source"] == "zurich.txt"
    finally:
        app.close()


def test_twenty_conversations_side_by_side_keep_their_own_subjects(museums):
    pipeline = museums
    barrier = threading.Barrier(CLIENTS)

    def converse(number):
        place = PLACES[number]
        history, turns = [], []
        barrier.wait()
        history, turns, _ = respond(pipeline, f"What does the museum of {place} keep?", history, turns, 3)
        history, turns, _ = respond(pipeline, "When did it open?", history, turns, 3)
        return number, history, turns

    with ThreadPoolExecutor(CLIENTS) as pool:
        conversations = list(pool.map(converse, range(CLIENTS)))
    for number, history, turns in conversations:
        place, treasure = PLACES[number], TREASURES[number]
        assert len(history) == 4 and len(turns) == 2
        assert treasure in history[1]["content"]
        assert turns[1].search_query == f"When did it open? museum {place.lower()} keep"  # completed with its own subject
        assert turns[1].answer.citations[0].source == f"{place.lower()}.txt"
