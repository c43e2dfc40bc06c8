"""Masking personal data before it reaches logs or Dagster run metadata (which many people can read)."""

from __future__ import annotations

import re

import pandas as pd

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_email(email: object) -> object:
    """'dana.ruiz@acme.com' -> 'd***@acme.com': the company stays visible, the person does not."""
    if not isinstance(email, str):
        return email
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", email)


def mask_frame_emails(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every email address inside string columns masked."""
    masked = frame.copy()
    for column in masked.columns:
        if masked[column].dtype == object or pd.api.types.is_string_dtype(masked[column]):
            masked[column] = masked[column].map(mask_email)
    return masked
