"""The one data converter factory: pydantic JSON, AES-GCM encryption, encoded failures.

Worker, CLI, intake routes, codec server and tests all build their converter here, so a
payload written by one is always readable by the others, and a payload that is not
encrypted under a known key is refused by all of them (``worker.codec``).
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import CompositePayloadConverter, DataConverter, DefaultFailureConverterWithEncodedAttributes

from worker.codec import EncryptionCodec, RefusalPayloadConverter
from worker.config import Settings
from worker.keys import KeyRing, load_or_create, parse_key_setting


class CasePayloadConverter(CompositePayloadConverter):
    """Pydantic's converters, and the refusal converter that turns a refused payload into its reason."""

    def __init__(self) -> None:
        super().__init__(*PydanticPayloadConverter().converters.values(), RefusalPayloadConverter())


def key_ring(settings: Settings) -> KeyRing:
    if settings.payload_keys is not None:
        return parse_key_setting(settings.payload_keys.get_secret_value())
    return load_or_create(settings.key_path)


def data_converter(settings: Settings) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=CasePayloadConverter,
        payload_codec=EncryptionCodec(key_ring(settings)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
