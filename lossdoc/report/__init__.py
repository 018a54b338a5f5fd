"""Reports: formatters read Diagnosis records and write text; they never compute a diagnosis.

Each format is one module with ``render(report: Report) -> str``; the registry below is what
``--format`` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lossdoc.analysis.types import Diagnosis
from lossdoc.ingest import InputError


@dataclass
class Report:
    diagnoses: list[Diagnosis]
    errors: list[InputError]
    exit_code: int
    plots: dict[int, str] = field(default_factory=dict)  # diagnosis index -> written plot path
    options: dict[str, Any] = field(default_factory=dict)


FORMATS = ("table", "json")
