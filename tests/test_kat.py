"""Random123's published known-answer vectors, through the public random_raw."""
import pathlib

import numpy as np
import pytest

import fastkaiming as fk

DATA = pathlib.Path(__file__).parent / "data" / "philox4x32_10_kat.txt"


def _vectors():
    for line in DATA.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, rounds, *words = line.split()
        assert (name, rounds) == ("philox4x32", "10")
        ctr, key, expected = words[:4], words[4:6], words[6:]
        yield [int(w, 16) for w in ctr], [int(w, 16) for w in key], [int(w, 16) for w in expected]


VECTORS = list(_vectors())


def test_data_file_has_the_three_vectors():
    assert len(VECTORS) == 3


@pytest.mark.parametrize("ctr,key,expected", VECTORS, ids=["zeros", "ones", "pi"])
def test_known_answer(ctr, key, expected):
    seed = key[0] | key[1] << 32
    block = ctr[0] | ctr[1] << 32
    stream = ctr[2] | ctr[3] << 32
    out = np.zeros(4, np.uint32)
    fk.random_raw(out, seed=seed, stream=stream, offset=4 * block)
    assert [int(w) for w in out] == expected


@pytest.mark.parametrize("ctr,key,expected", VECTORS, ids=["zeros", "ones", "pi"])
def test_known_answer_at_every_lane_offset(ctr, key, expected):
    seed = key[0] | key[1] << 32
    block = ctr[0] | ctr[1] << 32
    stream = ctr[2] | ctr[3] << 32
    for lane in range(4):
        out = np.zeros(4 - lane, np.uint32)
        fk.random_raw(out, seed=seed, stream=stream, offset=4 * block + lane)
        assert [int(w) for w in out] == expected[lane:]
