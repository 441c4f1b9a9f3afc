"""Key sets kept as hashes: the answers of a set of strings, without a string kept."""

from __future__ import annotations

import pandas as pd

from connectors.key_set import KeySet, key_hashes


def test_a_key_set_answers_as_a_set_of_its_keys_would() -> None:
    keys = KeySet(["co:a", "co:b"])
    keys.add(pd.Series(["co:b", "p:c@x.com"]))
    keys.add([])
    assert len(keys) == 3
    assert "co:a" in keys and "p:c@x.com" in keys and "co:c" not in keys and None not in keys
    assert keys.contains(["co:c", "co:a", "CO:A"]).tolist() == [False, True, False]  # keys are exact
    keys.clear()
    assert not keys and "co:a" not in keys and keys.contains(["co:a"]).tolist() == [False]


def test_key_hashes_are_those_of_pandas_whatever_the_container() -> None:
    assert key_hashes(["a", "b"]).tolist() == key_hashes(pd.Series(["a", "b"])).tolist()
    assert key_hashes([]).tolist() == []
    assert key_hashes(["a"]).tolist() != key_hashes(["b"]).tolist()
