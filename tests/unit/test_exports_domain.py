"""Export rows, notification settings, the webhook URL rules and signature, pure."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.attributes import AttributeDefinition, ProductTemplate
from shared.domain.catalog import Product
from shared.domain.exports import (
    CSV_COLUMNS,
    TEMPLATE_COLUMNS,
    ExportFormat,
    ExportSchema,
    ExportStatus,
    ExportView,
    RowWriter,
    csv_cell,
)
from shared.domain.notifications import (
    SIGNATURE_HEADER,
    NotificationSettings,
    NotificationSettingsInput,
    NotificationSettingsView,
    UnsafeUrlError,
    check_webhook_url,
    email_text,
    event_id,
    event_type,
    is_public_address,
    parse_webhook_url,
    retry_delay,
    sign,
    verify,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PRODUCT = Product.model_validate(
    {
        "id": "p1",
        "tenant_id": "t",
        "org_id": "o",
        "title": 'Hammer, "claw"',
        "description": "line one\nline two",
        "sku": "H-1",
        "attributes": {"weight_kg": 0.5},
        "variants": [
            {
                "id": "v1",
                "product_id": "p1",
                "sku": "H-1-red",
                "price": "9.90",
                "currency": "EUR",
                "created_at": NOW,
                "updated_at": NOW,
            }
        ],
        "created_at": NOW,
        "updated_at": NOW,
        "data_quality_score": 70,
    }
)


def test_an_ndjson_row_is_the_product_as_the_api_shows_it() -> None:
    line = RowWriter(ExportFormat.NDJSON).row(PRODUCT)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {**json.loads(PRODUCT.model_dump_json()), "template": None}


def test_csv_rows_quote_what_needs_it_and_keep_variants_as_json() -> None:
    rows = RowWriter(ExportFormat.CSV)
    text = (rows.header() + rows.row(PRODUCT) + rows.row(PRODUCT)).decode()
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 2 and list(parsed[0]) == [*CSV_COLUMNS, *TEMPLATE_COLUMNS]
    row = parsed[0]
    assert row["title"] == 'Hammer, "claw"' and row["description"] == "line one\nline two"
    assert row["barcode"] == "" and row["data_quality_score"] == "70"
    assert json.loads(row["variants"])[0]["price"] == "9.90"
    assert json.loads(row["attributes"]) == {"weight_kg": 0.5}


def test_rows_carry_the_template_completeness_and_typed_attribute_values() -> None:
    stamp = {"tenant_id": "t", "org_id": "o", "created_at": NOW, "updated_at": NOW}
    schema = ExportSchema(
        definitions=[
            AttributeDefinition(id="a1", name="Weight", slug="weight", type="NUMBER", unit="kg", **stamp),
            AttributeDefinition(id="a2", name="Organic", slug="organic", type="BOOLEAN", **stamp),
            AttributeDefinition(id="a3", name="Material", slug="material", type="TEXT", **stamp),
        ],
        templates=[ProductTemplate(id="t1", name="Apparel", slug="apparel", **stamp)],
    )
    attributes = {"weight": "12.50", "organic": True, "material": "=cotton", "free": "x"}
    product = PRODUCT.model_copy(update={"template_id": "t1", "completeness": 50, "attributes": attributes})

    line = json.loads(RowWriter(ExportFormat.NDJSON, schema).row(product))
    assert (line["template"], line["template_id"], line["completeness"]) == ("apparel", "t1", 50)
    assert line["attributes"] == {"weight": 12.5, "organic": True, "material": "=cotton", "free": "x"}

    rows = RowWriter(ExportFormat.CSV, schema)
    [row] = list(csv.DictReader(io.StringIO((rows.header() + rows.row(product)).decode())))
    assert list(row)[-6:] == [*TEMPLATE_COLUMNS, "attributes.material", "attributes.organic", "attributes.weight"]
    assert (row["template"], row["completeness"]) == ("apparel", "50")
    assert (row["attributes.weight"], row["attributes.organic"], row["attributes.material"]) == (
        "12.5",
        "true",
        "'=cotton",  # guarded like every text cell
    )
    # A value that no longer fits its definition is given as it is.
    [bad] = list(
        csv.DictReader(
            io.StringIO(
                (rows.header() + rows.row(product.model_copy(update={"attributes": {"weight": "heavy"}}))).decode()
            )
        )
    )
    assert (bad["attributes.weight"], bad["attributes.organic"], bad["template"]) == ("heavy", "", "apparel")


def test_csv_text_cells_that_a_spreadsheet_would_run_are_quoted_and_numbers_are_not() -> None:
    risky = PRODUCT.model_copy(
        update={
            "title": '=HYPERLINK("http://evil.example","x")',
            "description": "+1\rfor this",  # a CR inside a cell is quoted, not a line break
            "sku": "-42",
            "brand": "@SUM(A1:A9)",
            "category": "\tTools",
            "barcode": "\r0123",
            "attributes": {"note": "=1+1"},
        }
    )
    rows = RowWriter(ExportFormat.CSV)
    text = (rows.header() + rows.row(risky)).decode()
    assert text.endswith("\r\n") and text.count("\r\n") == 2
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["title"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (row["description"], row["sku"], row["brand"]) == ("'+1\rfor this", "'-42", "'@SUM(A1:A9)")
    assert (row["category"], row["barcode"]) == ("'\tTools", "'\r0123")
    assert row["data_quality_score"] == "70" and row["id"] == "p1"  # untouched
    assert json.loads(row["attributes"]) == {"note": "=1+1"}  # a JSON cell starts with { or [
    # Numbers stay numbers, negative ones too; text that looks like a number does not.
    assert [csv_cell(v) for v in (-5, 0, 2.5, -0.5, None)] == ["-5", "0", "2.5", "-0.5", ""]
    assert [csv_cell(v) for v in ("-5", "=", "+", "@", "\t", "\r", "a=b", "")] == [
        "'-5", "'=", "'+", "'@", "'\t", "'\r", "a=b", "",
    ]  # fmt: skip
    assert csv_cell('{"a":"=x"}') == '{"a":"=x"}' and csv_cell("-[1]") == "'-[1]"


def test_a_signature_verifies_and_any_change_or_delay_breaks_it() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("s3cret-s3cret-s3cret", body, 1_800_000_000)
    # What receivers are told to compute: HMAC-SHA256 of "<t>.<body>", hex.
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1800000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={expected}"
    assert verify("s3cret-s3cret-s3cret", header, body, now=1_800_000_100)
    assert verify("s3cret-s3cret-s3cret", header, body, now=1_800_000_300)  # 5 minutes late: still fine
    assert verify("s3cret-s3cret-s3cret", header, body, now=1_799_999_700)  # or early (clock skew)
    assert not verify("s3cret-s3cret-s3cret", header, body, now=1_799_999_699)
    assert verify("s3cret-s3cret-s3cret", f"v1={expected},t=1800000000", body, now=1_800_000_000)  # any order
    assert not verify("s3cret-s3cret-s3cret", "t=soon,v1=" + expected, body, now=1_800_000_000)
    assert not verify("s3cret-s3cret-s3cret", "t=1800000000", body, now=1_800_000_000)
    assert not verify("s3cret-s3cret-s3cret", f"t=1800000000=1,v1={expected}", body, now=1_800_000_000)
    assert SIGNATURE_HEADER == "X-Synq-Signature"  # the name receivers are told to read (README)
    assert not verify("s3cret-s3cret-s3cret", header, body + b" ", now=1_800_000_100)
    assert not verify("another-secret-xx", header, body, now=1_800_000_100)
    assert not verify("s3cret-s3cret-s3cret", header, body, now=1_800_000_301)  # a replay, too late
    assert not verify("s3cret-s3cret-s3cret", "v1=abc", body, now=1_800_000_000)


def test_event_ids_are_stable_per_export_and_outcome() -> None:
    # Receivers drop repeats by id, so an id must not change between releases either. (It is the
    # UUID that ids before the event envelope wrote as `evt_<hex>`; a delivery keeps the id it was
    # recorded with, so an event in retry across the change keeps its old spelling.)
    assert event_id("e1", "export.completed") == "0d79979f-f9de-52af-8fbd-784276fb32d5"
    assert (event_type(ExportStatus.COMPLETED), event_type(ExportStatus.FAILED)) == (
        "export.completed",
        "export.failed",
    )
    assert event_id("e1", "export.completed") != event_id("e1", "export.failed")
    assert event_id("e1", "export.completed") != event_id("e2", "export.completed")


def test_retry_delays_double_up_to_the_cap() -> None:
    assert [retry_delay(n, 30, 900) for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]


def public(_host: str, _port: int) -> list[str]:
    return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


@pytest.mark.parametrize(
    ("url", "addresses", "problem"),
    [
        ("http://hooks.example.com/x", ["93.184.216.34"], "https"),
        ("https://user:pw@hooks.example.com/x", ["93.184.216.34"], "credentials"),
        ("https://user@hooks.example.com/x", ["93.184.216.34"], "credentials"),
        ("https://:pw@hooks.example.com/x", ["93.184.216.34"], "credentials"),
        ("https://hooks.example.com/x", ["93.184.216.34", "10.0.0.7"], "non-public"),  # one bad answer is enough
        ("https://hooks.example.com/x", ["127.0.0.1"], "non-public"),
        ("https://hooks.example.com/x", ["169.254.169.254"], "non-public"),
        ("https://hooks.example.com/x", ["100.64.1.1"], "non-public"),
        ("https://hooks.example.com/x", ["::ffff:127.0.0.1"], "non-public"),
        ("https://hooks.example.com/x", ["fd20:ce::254"], "non-public"),
        ("https://metadata.google.internal/x", ["93.184.216.34"], "metadata"),
        ("https://hooks.example.com/x", ["ff0e::1"], "non-public"),  # global, but multicast
        ("https://hooks.example.com/x", ["fe80::1%eth0"], "non-public"),  # scoped link-local
        ("https://metadata.google.internal/x", ["93.184.216.34"], "metadata"),
        ("https://METADATA.google.internal./x", ["93.184.216.34"], "metadata"),
        ("https://metadata/x", ["93.184.216.34"], "metadata"),
        ("https://metadata.goog/x", ["93.184.216.34"], "metadata"),
        ("https://hooks.example.com:99999/x", ["93.184.216.34"], "port"),
        ("https:///x", [], "no host"),
        # IPv6 forms that lead to a private IPv4 address
        ("https://hooks.example.com/x", ["64:ff9b::7f00:1"], "non-public"),  # NAT64 of 127.0.0.1
        ("https://hooks.example.com/x", ["64:ff9b::a9fe:a9fe"], "non-public"),  # NAT64 of 169.254.169.254
        ("https://hooks.example.com/x", ["64:ff9b:1::808:808"], "non-public"),  # local-use NAT64: refused whole
        ("https://hooks.example.com/x", ["2002:a00:1::1"], "non-public"),  # 6to4 of 10.0.0.1
        ("https://hooks.example.com/x", ["2002:7f00:1::"], "non-public"),  # 6to4 of 127.0.0.1
        ("https://hooks.example.com/x", ["::7f00:1"], "non-public"),  # IPv4-compatible: refused whole
        ("https://hooks.example.com/x", ["::808:808"], "non-public"),
        ("https://hooks.example.com/x", ["::ffff:169.254.169.254"], "non-public"),  # IPv4-mapped
        ("https://hooks.example.com/x", ["::ffff:0:a00:1"], "non-public"),  # IPv4-translated
        ("https://hooks.example.com/x", ["2001:0:4136:e378:8000:63bf:3fff:fdd2"], "non-public"),  # Teredo
        ("https://hooks.example.com/x", ["fec0::1"], "non-public"),  # site-local
        ("https://[64:ff9b::7f00:1]/x", ["64:ff9b::7f00:1"], "non-public"),
        ("https://hooks.example.com/x", [], "does not resolve"),
        ("ftp://hooks.example.com/x", ["93.184.216.34"], "https"),
    ],
)
def test_production_refuses_urls_that_reach_inside(url: str, addresses: list[str], problem: str) -> None:
    with pytest.raises(UnsafeUrlError, match=problem):
        check_webhook_url(url, allow_private=False, resolve=lambda _h, _p: addresses)


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111", "8.8.4.4"]
)
def test_an_embedded_public_ipv4_address_is_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1:9/x",  # urlsplit: Invalid IPv6 URL
        "http://hooks.example.com:99999/",
        "http://hooks.example.com:-1/",
        "http://hooks.example.com:0/",
        "http://hooks.example.com:8o/",
        "http://a..example.com/",  # IDNA: empty label
        "http://" + "a" * 64 + ".example.com/",  # IDNA: label too long
        "http://\u2100.example.com/",  # urlsplit: invalid under NFKC
        "http://hooks\u0000.example.com/",
        "http://hooks.example.com/\u0000",
        "http://hooks.example.com/a b",
        "http://hooks.example.com/\nx",  # urlsplit would silently drop it
        "http://hooks\ud800.example.com/",
        "http://hooks<x>.example.com/",
        "http://[v1.x]/",
        "http://[fe80::1%25eth0]/",
        "http:///x",
        "mailto:ops@example.com",
    ],
)
@pytest.mark.parametrize("allow_private", [True, False])
def test_a_malformed_url_is_refused_never_raised_as_something_else(url: str, allow_private: bool) -> None:
    with pytest.raises(UnsafeUrlError):
        check_webhook_url(url, allow_private=allow_private, resolve=public)


def test_a_url_is_taken_apart_as_a_delivery_sends_it() -> None:
    target = parse_webhook_url("https://Bücher.Example.com./hooks/ünï?q=a b&x=%2F#frag".replace(" ", "%20"))
    assert (target.host, target.port, target.host_header) == ("xn--bcher-kva.example.com", 443, target.host)
    assert target.target == "/hooks/%C3%BCn%C3%AF?q=a%20b&x=%2F"
    v6 = parse_webhook_url("http://[2001:DB8::1]:8080")
    assert (v6.host, v6.target, v6.host_header) == ("2001:db8::1", "/", "[2001:db8::1]:8080")


def test_what_each_refusal_says() -> None:
    def refusal(url: str, allow_private: bool = False, resolve: Any = public) -> str:
        with pytest.raises(UnsafeUrlError) as refused:
            check_webhook_url(url, allow_private=allow_private, resolve=resolve)
        return str(refused.value)

    def unresolvable(_host: str, _port: int) -> list[str]:
        raise OSError("no such host")

    assert refusal("http://hooks.example.com/x") == "the URL must use https"
    assert refusal("ftp://hooks.example.com/x", allow_private=True) == "the URL must use http or https"
    assert refusal("https:///x") == "the URL has no host"
    assert refusal("https://u:p@hooks.example.com/x") == "the URL must not carry credentials"
    assert refusal("https://hooks.example.com:99999/x") == "the URL has an invalid port"
    assert refusal("https://metadata.goog/x") == "the URL points at a metadata server"
    assert refusal("https://hooks.example.com/x", resolve=unresolvable) == "the host hooks.example.com does not resolve"
    assert refusal("https://hooks.example.com/x", resolve=lambda h, p: []) == (
        "the host hooks.example.com does not resolve"
    )
    assert refusal("https://hooks.example.com/x", resolve=lambda h, p: ["10.0.0.1"]) == (
        "the host resolves to a non-public address (10.0.0.1)"
    )


def test_the_host_is_resolved_on_the_port_the_url_names() -> None:
    asked: list[tuple[str, int]] = []

    def recording(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34"]

    check_webhook_url("https://hooks.example.com/x", allow_private=False, resolve=recording)
    check_webhook_url("https://hooks.example.com:8443/x", allow_private=False, resolve=recording)
    assert asked == [("hooks.example.com", 443), ("hooks.example.com", 8443)]


def test_production_accepts_a_public_https_url_and_the_local_stack_a_loopback_one() -> None:
    check_webhook_url("https://hooks.example.com/synq?x=1", allow_private=False, resolve=public)
    check_webhook_url("http://127.0.0.1:9000/hook", allow_private=True, resolve=lambda _h, _p: ["127.0.0.1"])
    assert is_public_address("8.8.8.8") and not is_public_address("192.168.1.1")


def refused(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as refusal:
        NotificationSettingsInput.model_validate(body)
    return [e["msg"] for e in refusal.value.errors()]


def test_settings_need_their_channels_target_and_mask_the_secret() -> None:
    assert refused({"channel": "webhook"}) == ["Value error, the webhook channel needs webhook_url"]
    assert refused({"channel": "email", "emails": []}) == [
        "Value error, the email channel needs at least one address in emails"
    ]
    assert refused({"channel": "email", "emails": ["a@example.com", "A@example.com"]}) == [
        "Value error, emails holds an address twice"
    ]
    by_email = NotificationSettingsInput.model_validate({"channel": "email", "emails": ["a@example.com"]})
    assert (by_email.webhook_url, by_email.webhook_secret) == (None, None)
    url = "https://x.example/" + "h" * (2048 - len("https://x.example/"))
    hooked = NotificationSettingsInput.model_validate({"channel": "webhook", "webhook_url": f"  {url}\n"})
    assert hooked.webhook_url == url  # trimmed; 2,048 characters at most
    assert refused({"channel": "webhook", "webhook_url": url + "h"}) == ["String should have at most 2048 characters"]
    assert refused({"channel": "webhook", "webhook_url": " "}) == ["String should have at least 1 character"]
    # Whether a URL may receive webhooks is for check_webhook_url (the service), not the body's shape.
    assert NotificationSettingsInput.model_validate({"channel": "webhook", "webhook_url": "x"}).webhook_url == "x"
    hook = {"channel": "webhook", "webhook_url": "https://x.example/h"}
    assert NotificationSettingsInput.model_validate({**hook, "webhook_secret": "s" * 16}).webhook_secret == "s" * 16
    assert NotificationSettingsInput.model_validate({**hook, "webhook_secret": "s" * 256})
    for secret in ("s" * 15, "s" * 257):
        with pytest.raises(ValidationError, match="webhook_secret"):
            NotificationSettingsInput.model_validate({**hook, "webhook_secret": secret})
    many = [f"ops{i}@example.com" for i in range(21)]
    assert len(NotificationSettingsInput.model_validate({"channel": "email", "emails": many[:20]}).emails) == 20
    with pytest.raises(ValidationError, match="emails"):
        NotificationSettingsInput.model_validate({"channel": "email", "emails": many})
    emailed = NotificationSettings(
        channel="email", emails=["a@example.com"], updated_by="a@example.com", updated_at=NOW
    )
    assert emailed.view().webhook_secret is None
    stored = NotificationSettings(
        channel="webhook", webhook_url="https://x.example/h", webhook_secret="abcdefghijklmnop1234",
        updated_by="a@example.com", updated_at=NOW,
    )  # fmt: skip
    assert stored.view().webhook_secret == "*" * 12 + "1234"


def test_the_email_names_the_counts_and_the_link() -> None:
    export = ExportView(
        id="e1", tenant_id="t", org_id="o", status=ExportStatus.COMPLETED, format=ExportFormat.CSV, bucket="b",
        object_path="exports/t/o/e1.csv", row_count=9, excluded_count=2, size_bytes=1234,
        download_url="http://storage/x?sig", download_url_expires_at=NOW, created_by="a@example.com",
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    subject, text = email_text(export)
    assert subject == "Your catalog export is ready (9 products)"
    assert text == (
        "Your CSV export e1 is ready.\n"
        "Products exported: 9\n"
        "Products left out for open ERROR validation issues: 2\n"
        "Size: 1234 bytes\n"
        "\n"
        "Download (link valid until 2026-11-28 12:00 UTC):\n"
        "http://storage/x?sig\n"
        "\n"
        "After that, GET /api/v1/pim/exports/e1 returns a fresh link.\n"
    )
    failed = export.model_copy(update={"status": ExportStatus.FAILED, "failure_reason": "bucket missing"})
    assert email_text(failed) == ("Your catalog export failed", "Your CSV export e1 failed: bucket missing\n")


HOST_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # the longest name DNS allows


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/a b", "the URL must not contain spaces or control characters"),
        ("http://hooks.example.com/a\x1f", "the URL must not contain spaces or control characters"),
        ("http://hooks.example.com/a\x7f", "the URL must not contain spaces or control characters"),
        ("http://hooks.example.com/a\ud800", "the URL must not contain spaces or control characters"),
        ("http://hooks.example.com/a\udfff", "the URL must not contain spaces or control characters"),
        ("http://[::1:9/x", "the URL is malformed (Invalid IPv6 URL)"),
        ("http://hooks.example.com:8o/", "the URL has an invalid port"),
        ("http://hooks.example.com:0/", "the URL has an invalid port"),
        ("http://[fe80::1%25eth0]/", "the URL's IPv6 address must not carry a zone id"),
        ("http://[v1.x]/", "the URL's IPv6 address is invalid"),
        ("http://-a.example.com/", "the host name is invalid"),
        (f"http://{HOST_253}d/", "the host name is invalid"),  # 254 characters
    ],
)
def test_what_a_refused_url_says_at_each_edge(url: str, says: str) -> None:
    with pytest.raises(UnsafeUrlError) as refused:
        parse_webhook_url(url)
    assert str(refused.value) == says


def test_a_name_idna_refuses_says_why() -> None:
    with pytest.raises(UnsafeUrlError) as refused:
        parse_webhook_url("http://a..example.com/")
    assert str(refused.value).startswith("the host name is invalid (encoding with 'idna' codec failed")


def test_urls_just_inside_each_edge_are_taken() -> None:
    assert parse_webhook_url("http://hooks.example.com/a!b").target == "/a!b"  # the first printable after space
    assert parse_webhook_url("http://hooks.example.com/a\ue000").target == "/a%EE%80%80"  # just past the surrogates
    assert parse_webhook_url(f"http://{HOST_253}/").host == HOST_253
    assert (parse_webhook_url("http://hooks.example.com/").port, parse_webhook_url("https://h.example/").port) == (
        80,
        443,
    )


def test_a_secret_may_hold_spaces_but_no_control_character() -> None:
    hook = {"channel": "webhook", "webhook_url": "https://x.example/h"}
    spaced = "correct horse battery staple"
    assert NotificationSettingsInput.model_validate({**hook, "webhook_secret": spaced}).webhook_secret == spaced
    for bad in ("\x1f", "\x7f", "\n"):
        with pytest.raises(ValidationError) as refusal:
            NotificationSettingsInput.model_validate({**hook, "webhook_secret": f"sixteen-chars{bad}xyz"})
        assert refusal.value.errors()[0]["msg"] == "Value error, must not contain control characters"


def test_a_settings_view_without_a_webhook_says_none() -> None:
    view = NotificationSettingsView.model_validate(
        {
            "channel": "email",
            "emails": ["ops@example.com"],
            "updated_by": "ops@example.com",
            "updated_at": datetime.now(UTC),
        }
    )
    assert (view.webhook_url, view.webhook_secret) == (None, None)
