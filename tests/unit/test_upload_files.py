"""Reading uploaded files: CSV records (RFC 4180), JSON Lines, JSON arrays streamed, and the
plan that cuts a file into batches each of which, read alone, finds exactly its own items."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from shared.domain.bulk import Malformed
from shared.domain.models import BatchRange, ItemError, JobType, UploadFormat
from shared.domain.uploads import (
    ChunkStream,
    FilePlan,
    UnreadableFileError,
    batch_items,
    check_columns,
    csv_item,
    csv_records,
    error_header,
    error_rows,
    item_records,
    json_array_lines,
    plan_batches,
    split_lines,
)


def cells(data: bytes) -> list[Any]:
    return [r.value for r in csv_records(split_lines([data]))]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def plan(
    fmt: UploadFormat, job_type: JobType, data: bytes, batch_items_max: int = 2, chunk: int = 7
) -> tuple[FilePlan, list[BatchRange]]:
    found = FilePlan()
    records = item_records(fmt, job_type, chunked(data, chunk), found)
    return found, list(plan_batches(records, found, 1_000_000, batch_items_max, 4_000_000))


def read_all(fmt: UploadFormat, job_type: JobType, data: bytes, **kw: Any) -> tuple[list[Any], list[int | None]]:
    """Every item and line, as the batches of the file's plan read them, one range at a time."""
    found, batches = plan(fmt, job_type, data, **kw)
    items: list[Any] = []
    lines: list[int | None] = []
    for b in batches:
        got, got_lines = batch_items(fmt, job_type, data[b.start : b.end], b, found.columns)
        items += got
        lines += got_lines
    assert len(items) == found.item_count
    return items, lines


# --- CSV records ---------------------------------------------------------------------------------
def test_quoted_fields_hold_commas_quotes_and_line_breaks() -> None:
    data = b'a,b\r\n"x, y","say ""hi"""\r\n"two\r\nlines",z\r\n'
    assert cells(data) == [["a", "b"], ["x, y", 'say "hi"'], ["two\r\nlines", "z"]]


def test_lf_crlf_and_a_last_line_without_a_break_all_end_records() -> None:
    assert cells(b"a\nb\r\nc") == [["a"], ["b"], ["c"]]


def test_blank_lines_are_no_records() -> None:
    assert cells(b"a\n\n\r\nb\n") == [["a"], ["b"]]


def test_a_bom_is_dropped_from_the_first_cell() -> None:
    assert cells(b"\xef\xbb\xbftitle,sku\nLamp,1\n")[0] == ["title", "sku"]


def test_records_know_their_bytes_and_first_line() -> None:
    data = b'h\n"a\nb"\nc\n'
    records = list(csv_records(split_lines([data])))
    assert [(r.start, r.end, r.line) for r in records] == [(0, 2, 1), (2, 8, 2), (8, 10, 4)]


def test_a_malformed_record_is_reported_and_the_next_one_read() -> None:
    found = cells(b'a,b\n"x"y,1\nok,2\n')
    assert isinstance(found[1], Malformed) and "malformed CSV" in found[1].reason
    assert found[2] == ["ok", "2"]


def test_a_line_not_in_utf8_is_malformed_and_names_its_line() -> None:
    found = cells(b"a\n\xff\xfe\nb\n")
    assert found[1] == Malformed("line 2 is not valid UTF-8") and found[2] == ["b"]


def test_an_unterminated_quote_is_malformed_not_a_crash() -> None:
    assert isinstance(cells(b'a\n"never closed\n')[-1], Malformed)


# --- CSV columns and items ---------------------------------------------------------------------
def test_empty_cells_are_fields_not_given_and_attribute_columns_fill_the_map() -> None:
    columns = ["id", "title", "description", "attributes.colour", "attributes.size"]
    item = csv_item(JobType.BULK_UPDATE, columns, ["p1", "Lamp", "", "red", ""])
    assert item == {"id": "p1", "title": "Lamp", "attributes": {"colour": "red"}}


def test_a_row_with_the_wrong_number_of_cells_is_malformed() -> None:
    item = csv_item(JobType.BULK_IMPORT, ["title", "sku"], ["Lamp"])
    assert item == Malformed("the row has 1 cell(s); the header has 2 column(s)")


def test_a_delete_row_is_its_id() -> None:
    assert csv_item(JobType.BULK_DELETE, ["id"], ["abc"]) == "abc"
    assert isinstance(csv_item(JobType.BULK_DELETE, ["id"], [""]), Malformed)


def test_unknown_columns_are_named_together() -> None:
    with pytest.raises(UnreadableFileError) as exc:
        check_columns(JobType.BULK_IMPORT, ["title", "colour", "id", "attributes."])
    assert '"colour"' in str(exc.value) and '"id"' in str(exc.value) and '"attributes."' in str(exc.value)


def test_known_columns_per_job_type() -> None:
    check_columns(JobType.BULK_IMPORT, ["title", "sku", "attributes.colour", "error_code", "line"])
    check_columns(JobType.BULK_UPDATE, ["id", "status"])
    check_columns(JobType.BULK_DELETE, ["id"])
    for job_type, columns in (
        (JobType.BULK_DELETE, ["id", "title"]),
        (JobType.BULK_DELETE, ["title"]),
        (JobType.BULK_UPDATE, ["title"]),  # no id
        (JobType.BULK_IMPORT, ["title", "title"]),
    ):
        with pytest.raises(UnreadableFileError):
            check_columns(job_type, columns)


def test_unknown_columns_fail_planning_before_any_item() -> None:
    with pytest.raises(UnreadableFileError, match="colour"):
        plan(UploadFormat.CSV, JobType.BULK_IMPORT, b"title,colour\nLamp,red\n")


def test_a_file_without_items_cannot_be_planned() -> None:
    for data in (b"", b"title\r\n", b"\n\n"):
        with pytest.raises(UnreadableFileError):
            plan(UploadFormat.CSV, JobType.BULK_IMPORT, data)
    with pytest.raises(UnreadableFileError):
        plan(UploadFormat.JSONL, JobType.BULK_IMPORT, b"\n \n")


# --- planning and reading batches back ----------------------------------------------------------
def test_each_batch_read_alone_finds_exactly_its_items_with_their_lines() -> None:
    data = (
        b"\xef\xbb\xbftitle,description,attributes.colour\r\n"
        b'Lamp,"a\r\nlong, ""quoted""\r\ntext",red\r\n'
        b"\r\n"
        b"Desk,,\r\n"
        b'"bro"ken,x,y\r\n'
        b"Chair,plain,blue"
    )
    for chunk in (1, 3, 64):
        items, lines = read_all(UploadFormat.CSV, JobType.BULK_IMPORT, data, chunk=chunk)
        assert items[0] == {
            "title": "Lamp",
            "description": 'a\r\nlong, "quoted"\r\ntext',
            "attributes": {"colour": "red"},
        }
        assert items[1] == {"title": "Desk"}
        assert isinstance(items[2], Malformed)
        assert items[3] == {"title": "Chair", "description": "plain", "attributes": {"colour": "blue"}}
        assert lines == [2, 6, 7, 8]


def test_batches_are_cut_by_count_and_by_bytes() -> None:
    data = b"title\n" + b"".join(f"item {i}\n".encode() for i in range(10))
    found, batches = plan(UploadFormat.CSV, JobType.BULK_IMPORT, data, batch_items_max=4)
    assert (found.item_count, found.batch_count) == (10, 3)
    assert [(b.first_item, b.item_count, b.first_line) for b in batches] == [(0, 4, 2), (4, 4, 6), (8, 2, 10)]
    records = item_records(UploadFormat.CSV, JobType.BULK_IMPORT, [data], FilePlan())
    by_bytes = list(plan_batches(records, FilePlan(), 100, 100, 15))  # two 7-byte items a batch
    assert [b.item_count for b in by_bytes] == [2, 2, 2, 2, 2]


def test_more_items_than_a_job_takes_cannot_be_planned() -> None:
    records = item_records(UploadFormat.JSONL, JobType.BULK_IMPORT, [b"{}\n" * 5], FilePlan())
    with pytest.raises(UnreadableFileError, match="more than 4"):
        list(plan_batches(records, FilePlan(), 4, 2, 1000))


def test_jsonl_lines_are_items_a_bad_one_malformed_blank_ones_skipped() -> None:
    data = b'\xef\xbb\xbf{"title": "a"}\n\n{"title": \n"not an object"\n[1]\n{"title": "b"}'
    items, lines = read_all(UploadFormat.JSONL, JobType.BULK_IMPORT, data)
    assert items[0] == {"title": "a"} and items[4] == {"title": "b"}
    assert [type(i).__name__ for i in items[1:4]] == ["Malformed"] * 3
    assert lines == [1, 3, 4, 5, 6]


def test_jsonl_deletes_are_id_strings() -> None:
    items, _ = read_all(UploadFormat.JSONL, JobType.BULK_DELETE, b'"a"\n{"id": "b"}\n')
    assert items[0] == "a" and isinstance(items[1], Malformed)


def test_a_json_array_is_streamed_into_one_line_per_item() -> None:
    items = [{"title": "a", "price": 1.5, "n": 2**63 - 1}, "x", {"t": "é\n"}]
    data = json.dumps(items, indent=2, ensure_ascii=False).encode()
    lines = list(json_array_lines(ChunkStream(chunked(data, 5))))
    assert [json.loads(line) for line in lines] == items
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)


def test_a_json_file_that_is_not_an_array_of_items_cannot_be_planned() -> None:
    # The streaming parser holds integers to 64 bits: a larger one makes the file unreadable.
    for data in (b'{"title": "a"}', b"[{}, {", b"", b"[1,}", b'[{"n": 100000000000000000000}]'):
        with pytest.raises(UnreadableFileError):
            list(json_array_lines(io.BytesIO(data)))


# --- the errors CSV --------------------------------------------------------------------------------
def test_error_rows_are_the_original_cells_with_line_and_error() -> None:
    data = b'title,sku\r\nok,1\r\n"=bad, ""x""",2\r\n"a"b,3\r\n'
    found, [batch] = plan(UploadFormat.CSV, JobType.BULK_IMPORT, data, batch_items_max=10)
    errors = [
        ItemError(index=1, line=3, code="INVALID_ITEM", message="=title: too long"),
        ItemError(index=2, line=4, code="MALFORMED_RECORD", message="malformed CSV"),
    ]
    rows = b"".join(error_rows(found.columns or [], data[batch.start : batch.end], batch, errors))
    assert error_header(["title", "sku", "line"]) == b"title,sku,line,error_code,error_message\r\n"
    # The merchant's own cells come back untouched; the message is guarded against formulas.
    assert rows == b'"=bad, ""x""",2,3,INVALID_ITEM,\'=title: too long\r\n,,4,MALFORMED_RECORD,malformed CSV\r\n'


def test_a_variants_cell_is_read_as_json_and_a_broken_one_is_malformed() -> None:
    columns = ["title", "variants"]
    check_columns(JobType.BULK_IMPORT, columns)
    check_columns(JobType.BULK_UPDATE, ["id", *columns])
    item = csv_item(JobType.BULK_IMPORT, columns, ["Shirt", '[{"option_values": {"color": "Red"}}]'])
    assert item == {"title": "Shirt", "variants": [{"option_values": {"color": "Red"}}]}
    assert csv_item(JobType.BULK_IMPORT, columns, ["Shirt", ""]) == {"title": "Shirt"}
    broken = csv_item(JobType.BULK_IMPORT, columns, ["Shirt", "[{"])
    assert isinstance(broken, Malformed) and "`variants` cell is not valid JSON" in broken.reason
