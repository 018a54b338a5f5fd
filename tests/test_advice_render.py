"""The "next run" lines the reports print: plain text built from the advice record alone."""

from __future__ import annotations

from dataclasses import replace

from lossdoc.advice.model import Advice, BestPoint, Recommendation
from lossdoc.advice.render import next_run_lines

ADVICE = Advice(
    x_name="epoch",
    monitor="val_loss",
    checks=30,
    best=BestPoint(x=12, value=0.31, saved_fraction=0.6, final_value=0.45, rise_pct=45.2, after=18),
    replay=[
        {"callback": "keras.EarlyStopping", "params": {"patience": 0, "min_delta": 0.0}, "stop_x": 13},
        {
            "callback": "keras.ReduceLROnPlateau",
            "params": {"factor": 0.1, "patience": 10},
            "stop_x": None,
            "lr_cut_x": [22, 33],
        },
        {"callback": "lightning.EarlyStopping", "params": {"patience": 3}, "stop_x": None},
    ],
    recommendation=Recommendation(
        framework="keras",
        patience=4,
        min_delta=0.002,
        stop_x=16,
        snippet="from keras.callbacks import EarlyStopping\nEarlyStopping(patience=4)",
    ),
    notes=["Learning rate: constant at 0.001 through the plateau: add a schedule."],
)


def test_best_line_states_saving_and_rise():
    lines = next_run_lines(ADVICE)
    assert lines[0] == (
        "Best point: epoch 12 (val_loss 0.31); the 18 epochs after it, 60% of the run, raised it to 0.45 (+45%)."
    )


def test_a_last_check_below_the_best_point_is_called_lower_not_unimproved():
    dip = replace(ADVICE, best=replace(ADVICE.best, final_value=0.3, rise_pct=-3.2))
    line = next_run_lines(dip)[0]
    assert line.endswith("ended at 0.3: lower, but the smoothed loss never fell below its level there.")
    same = replace(ADVICE, best=replace(ADVICE.best, final_value=0.31, rise_pct=0.0))
    assert next_run_lines(same)[0].endswith("ended at 0.31 without improving on it.")


def test_replay_lines_name_stop_and_cuts():
    text = "\n".join(next_run_lines(ADVICE))
    assert "keras.EarlyStopping(patience=0, min_delta=0): would have stopped at epoch 13" in text
    assert "would have cut the learning rate at epoch 22, 33" in text
    assert "lightning.EarlyStopping(patience=3): would not have stopped" in text


def test_recommendation_and_snippet_lines_are_indented_plain_text():
    lines = next_run_lines(ADVICE)
    i = next(k for k, s in enumerate(lines) if s.startswith("Next run (keras)"))
    assert "patience 4, min_delta 0.002" in lines[i] and "stops at epoch 16" in lines[i]
    assert lines[i + 1] == "  from keras.callbacks import EarlyStopping"
    assert lines[i + 2] == "  EarlyStopping(patience=4)"
    assert lines[-1].startswith("Learning rate:")
    assert not any("[" in s and "]" in s and "/" in s for s in lines)  # no rich markup like [bold]...[/]


def test_empty_or_missing_advice_gives_no_lines():
    assert next_run_lines(None) == []
    assert next_run_lines(Advice()) == []
    assert next_run_lines(Advice(best=None, replay=[], recommendation=None, notes=[])) == []


def test_best_at_end_says_nothing_to_save():
    lines = next_run_lines(
        Advice(
            x_name="step", best=BestPoint(x=900, value=0.2, saved_fraction=0.0, final_value=0.2, rise_pct=0.0, after=0)
        )
    )
    assert lines == ["Best point: step 900 (the loss 0.2), at the end of the run: nothing to save by stopping earlier."]


def test_a_stop_before_the_best_point_is_called_out():
    advice = replace(ADVICE, replay=[{"callback": "keras.EarlyStopping", "params": {"patience": 0}, "stop_x": 5}])
    line = next(s for s in next_run_lines(advice) if "keras.EarlyStopping" in s)
    assert line.endswith("would have stopped at epoch 5, before the best at epoch 12")


def test_rise_without_a_ratio_still_says_the_loss_went_up():
    best = BestPoint(x=0, value=-2.0, saved_fraction=0.9, final_value=-1.0, rise_pct=None, after=29)
    assert next_run_lines(Advice(x_name="epoch", best=best))[0].endswith("raised it to -1.")
