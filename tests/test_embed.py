"""Embedders: the bundled USE and e5 encoders, and a real sentence-transformers model shipped in a pip package."""

import numpy as np
import pytest

from factcheck import EmbedderError, UnknownBackendError, get_embedder


def _check_unit_rows(vecs, n, dim):
    assert vecs.shape == (n, dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "spec, dim, texts",
    [
        # USE is trained to align languages: a Chinese claim and its English paraphrase are neighbours.
        ("use", 512, ["5G 网络会传播新冠病毒", "5G networks spread the coronavirus", "今天股市大涨"]),
        ("e5", 384, ["5G网络会传播新冠病毒", "新冠病毒通过5G基站传播", "今天股市大涨"]),
    ],
)
def test_bundled_encoders_put_paraphrases_closer_than_other_topics(spec, dim, texts):
    emb = get_embedder(spec)
    vecs = emb.embed(texts)
    _check_unit_rows(vecs, 3, dim)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_batches_and_progress_cover_every_text():
    emb = get_embedder("use", batch_size=4)
    seen = []
    vecs = emb.embed([f"第{i}条新闻" for i in range(10)], progress=seen.append)
    _check_unit_rows(vecs, 10, 512)
    assert seen == [4, 4, 2]
    assert emb.embed([]).shape == (0, 512)


def test_sentence_transformers_model_from_a_pip_package():
    emb = get_embedder("st:all-MiniLM-L6-v2")
    assert emb.name == "st:all-MiniLM-L6-v2" and emb.dim == 384
    vecs = emb.embed(["The vaccine is safe", "Vaccines are safe to use", "Stock prices fell sharply"])
    _check_unit_rows(vecs, 3, 384)
    assert vecs[0] @ vecs[1] > 0.7 > vecs[0] @ vecs[2]


def test_unknown_and_unloadable_embedders():
    with pytest.raises(UnknownBackendError, match="Valid names: e5, st:<model name or path>, use"):
        get_embedder("bert")
    with pytest.raises(EmbedderError, match="nothing is downloaded here"):
        get_embedder("st:/no/such/model-folder-xyz")
