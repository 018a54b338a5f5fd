"""The registries are the one place a reader, a format or an output is added: everything else reads them."""

from __future__ import annotations

import importlib

from lossdoc import config
from lossdoc.advice.frameworks import BY_FORMAT
from lossdoc.docs import formats_text, reader_formats
from lossdoc.ingest.readers import FORMATS, READERS
from lossdoc.outputs import DEFAULT, FORMATTERS


def test_every_format_a_reader_reports_is_in_the_table_and_listed():
    assert set(reader_formats()) == set(FORMATS)
    text = formats_text(200)
    assert all(f"\n{name} " in text for name in FORMATS)


def test_every_reader_loads_and_the_last_takes_any_text():
    for entry in READERS:
        assert callable(entry.load()), entry.name
    assert READERS[-1].name == "delimited"


def test_the_framework_guess_comes_from_the_format_table():
    assert {n: f.framework for n, f in FORMATS.items() if f.framework} == BY_FORMAT
    assert BY_FORMAT["hf_trainer_state"] == "huggingface"


def test_every_output_format_has_a_renderer_and_is_accepted():
    assert tuple(FORMATTERS) == config.FORMATS
    for name, entry in FORMATTERS.items():
        module = importlib.import_module(entry.module)
        assert name == DEFAULT or callable(module.render), name


def test_every_setting_is_a_config_key_with_a_check():
    assert tuple(config.CHECKS) == config.KEYS
    assert tuple(f.replace("_", "-") for f in config.Settings.__dataclass_fields__) == config.KEYS
