import pytest

from flow_sdk.protocol import encode_state_key

VECTORS = [
    (["table"], 0, "table"),
    (["public", "table"], 0, "public%2Ftable"),
    (["public", "table"], 1, "public%2Ftable.v1"),
    (["he!lo৬", "a/part%", "_¾the-=res+."], 3, "he%21lo৬%2Fa%2Fpart%25%2F_¾the-=res+..v3"),
    (
        [
            "prefix",
            "http://user:password@foo.bar.example.com:9000/hooks///baz?type=critical&test=true",
        ],
        42,
        "prefix%2Fhttp%3A%2F%2Fuser%3Apassword%40foo.bar.example.com%3A9000%2Fhooks%2F%2F%2Fbaz%3Ftype=critical%26test=true.v42",
    ),
]


@pytest.mark.parametrize(("path", "backfill", "expected"), VECTORS)
def test_flow_vectors(path: list[str], backfill: int, expected: str) -> None:
    assert encode_state_key(path, backfill) == expected


def test_multibyte_characters_are_percent_encoded_per_byte() -> None:
    assert encode_state_key(["a b", "é~"]) == "a%20b%2Fé%7E"
    assert encode_state_key(["😀 x"]) == "%F0%9F%98%80%20x"
