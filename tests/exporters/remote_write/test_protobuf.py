"""WriteRequests are encoded as remote-write 1.0 wants them."""

from __future__ import annotations

from pathlib import Path

from posfleet.exporters.remote_write.protobuf import (
    SampleEncoder,
    encode_labels,
    varint,
    write_request,
)
from tests.exporters.remote_write.decode import decode_write_request

TESTDATA = Path(__file__).resolve().parents[3] / "exporters" / "remote_write" / "testdata"


def test_labels_are_sorted_named_and_empty_values_left_out() -> None:
    labels = encode_labels("posfleet_terminal_up", {"terminal": "T-1", "region": "", "job": "j"})
    body = write_request([SampleEncoder(1_764_067_320_000).timeseries(labels, 1.0)])
    (series,) = decode_write_request(body)
    assert series.label_order == ["__name__", "job", "terminal"]
    assert series.labels["__name__"] == "posfleet_terminal_up"
    assert series.samples == [(1.0, 1_764_067_320_000)]


def test_values_and_timestamps_survive_the_round_trip() -> None:
    encoder = SampleEncoder(-5)
    body = write_request(
        encoder.timeseries(encode_labels("m", {"i": str(i)}), value)
        for i, value in enumerate([0.0, -1.5, 1e300, 0.42])
    )
    decoded = decode_write_request(body)
    assert [s.samples[0] for s in decoded] == [(0.0, -5), (-1.5, -5), (1e300, -5), (0.42, -5)]


def test_varints_match_the_protobuf_examples() -> None:
    assert varint(1) == b"\x01"
    assert varint(300) == b"\xac\x02"
    assert varint(-1) == b"\xff" * 9 + b"\x01"


def test_a_write_request_matches_the_golden_bytes() -> None:
    labels = encode_labels(
        "posfleet_printer_cuts_total",
        {"terminal": "T-0451", "store": "S-012", "merchant": "acme", "region": "north"},
    )
    body = write_request([SampleEncoder(1_764_067_320_000).timeseries(labels, 9121.0)])
    golden = (TESTDATA / "write_request.hex").read_text(encoding="ascii").split()
    assert body.hex() == "".join(golden)
