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
from worker.key_guard import key_ring


class CasePayloadConverter(CompositePayloadConverter):
    """Pydantic's converters, and the refusal converter that turns a refused payload into its reason."""

    def __init__(self) -> None:
        super().__init__(*PydanticPayloadConverter().converters.values(), RefusalPayloadConverter())


def data_converter(settings: Settings, *, log_refusals: bool = True) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=CasePayloadConverter,
        payload_codec=EncryptionCodec(key_ring(settings), log_refusals=log_refusals),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
