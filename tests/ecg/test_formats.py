"""The two upload shapes, read as the devices write them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from app.ecg.formats import StripUnreadable, parse_apple_csv, parse_fhir
from tests.ecg.helpers import beats_at, fhir_strip, regular_beats

# An Apple Watch export, header exactly as the Health app writes it (quoted values with
# commas, two blank lines before the lead, µV as U+00B5), shortened to four samples.
APPLE_EXPORT = (
    "Name,Li Wei\n"
    'Date of Birth,"Mar 4, 1961"\n'
    "Recorded Date,2026-05-30 16:32:18 -0700\n"
    "Classification,Atrial Fibrillation\n"
    "Symptoms,\n"
    "Software Version,1.90\n"
    'Device,"Watch7,12"\n'
    "Sample Rate,512 hertz\n"
    "\n"
    "\n"
    "Lead,Lead I\n"
    "Unit,µV\n"
    "\n"
    "150.141\n"
    "151.2\n"
    "-3.5\n"
    "-265,868\n"
).encode()


def test_apple_export_header_and_samples_are_read() -> None:
    strip = parse_apple_csv(APPLE_EXPORT)
    assert strip.recorded_at == datetime(2026, 5, 30, 23, 32, 18, tzinfo=UTC)
    assert strip.recorded_at.utcoffset() == timedelta(hours=-7)
    assert strip.rate_hz == 512.0
    assert strip.lead == "I"
    assert strip.device_model == "Watch7,12"
    assert (strip.rhythm, strip.rhythm_text) == ("af", "Atrial Fibrillation")
    # A decimal comma (devices in such locales) reads as a decimal point.
    assert strip.samples_uv.tolist() == [150.141, 151.2, -3.5, -265.868]


def test_a_file_without_the_apple_header_is_refused() -> None:
    with pytest.raises(StripUnreadable) as refused:
        parse_apple_csv(b"1.0\n2.0\n3.0\n")
    assert refused.value.code == "ecg_file_unrecognised"


def test_fhir_sampled_data_is_origin_plus_factor_times_data() -> None:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    samples = beats_at(regular_beats(), 30.0)
    body = fhir_strip(samples, at, rhythm="Sinus Rhythm")
    body["component"][0]["valueSampledData"]["origin"]["value"] = 0.5  # mV
    strip = parse_fhir(json.dumps(body).encode())
    assert strip.rate_hz == pytest.approx(512.0)
    assert strip.lead == "I" and strip.rhythm == "sinus"
    assert np.allclose(strip.samples_uv, np.round(samples) + 500.0)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda sd: sd.update(dimensions=2), "ecg_not_single_lead"),
        (lambda sd: sd.update(data="1 2 E 4"), "ecg_samples_invalid"),
        (lambda sd: sd["origin"].update(code="mmHg", unit="mmHg"), "ecg_unit_unsupported"),
    ],
)
def test_fhir_waveforms_that_are_not_one_lead_of_numbers_are_refused(change, code) -> None:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    body = fhir_strip(np.zeros(5120), at)
    change(body["component"][0]["valueSampledData"])
    with pytest.raises(StripUnreadable) as refused:
        parse_fhir(json.dumps(body).encode())
    assert refused.value.code == code
