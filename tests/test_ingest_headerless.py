"""Numeric files with no header (np.savetxt output, a first row of numbers): columns named by position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lossdoc.errors import LossdocError
from lossdoc.ingest import read_one

FIXTURES = Path(__file__).parent / "fixtures" / "headerless"
LOSS = 2.0 * np.exp(-np.arange(12) / 4.0) + 0.1


def test_one_savetxt_column_is_the_loss_over_row_numbers():
    (run,) = read_one(str(FIXTURES / "savetxt_one_column.txt"))
    assert run.format == "headerless"
    assert run.x_name == "row"
    assert [(s.name, s.role) for s in run.series] == [("0", "train")]
    np.testing.assert_allclose(run.train.x, np.arange(12))
    np.testing.assert_allclose(run.train.y, LOSS)
    assert run.notes == [
        "no header: read column 0 as the training loss, x = row number; the columns are named by position (0); "
        "pick another with --train colN"
    ]


def test_three_columns_first_is_the_loss_and_col2_picks_the_third():
    (run,) = read_one(str(FIXTURES / "savetxt_three_columns.csv"))
    assert [(s.name, s.role) for s in run.series] == [("0", "train")]
    np.testing.assert_allclose(run.train.y, LOSS)
    assert "(0, 1, 2)" in run.notes[0]
    for spelling in ("col2", "2", "column 2"):
        (picked,) = read_one(str(FIXTURES / "savetxt_three_columns.csv"), {"train": spelling})
        assert [(s.name, s.role) for s in picked.series] == [("2", "train")]
        np.testing.assert_allclose(picked.train.y, LOSS * 0.3)
        assert picked.notes[0].startswith("no header: read train = column 2;")


def test_a_strictly_increasing_integer_first_column_is_the_x():
    (run,) = read_one(str(FIXTURES / "savetxt_step_first.txt"))
    assert run.x_name == "0"
    assert [(s.name, s.role) for s in run.series] == [("1", "train")]
    np.testing.assert_allclose(run.train.x, np.arange(100, 1300, 100))
    np.testing.assert_allclose(run.train.y, np.round(LOSS, 6))
    assert run.notes[0].startswith("no header: column 0 counts up in whole steps: read it as x and column 1")
    (both,) = read_one(str(FIXTURES / "savetxt_step_first.txt"), {"x": "col0", "train": "col1", "val": "col2"})
    assert [(s.name, s.role) for s in both.series] == [("1", "train"), ("2", "val")]


def test_a_first_row_of_numbers_keeps_nan_and_inf(tmp_path):
    f = tmp_path / "loss.csv"
    f.write_text("0.9,1\n0.7,1\nnan,1\ninf,1\n0.5,1\n")
    (run,) = read_one(str(f))
    assert run.format == "headerless"
    np.testing.assert_array_equal(run.train.y, [0.9, 0.7, np.nan, np.inf, 0.5])


def test_a_column_that_is_not_there_says_how_many_there_are():
    with pytest.raises(LossdocError, match=r"no column 'col7': this file has no header and 3 column\(s\)"):
        read_one(str(FIXTURES / "savetxt_three_columns.csv"), {"train": "col7"})


def test_a_header_of_names_is_not_headerless(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("step,loss\n1,0.9\n2,0.8\n")
    (run,) = read_one(str(f))
    assert run.format != "headerless"
