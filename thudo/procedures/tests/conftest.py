from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from thudo.accounts.roles import Role
from thudo.procedures.models import (
    FormField,
    LifeEvent,
    Procedure,
    ProcessingStep,
    RequiredPaper,
    Sector,
)


@pytest.fixture
def catalog(db: Any) -> None:
    from thudo.procedures.demo import demo_load

    demo_load()


@pytest.fixture
def make_procedure(db: Any) -> Any:
    def make(code: str = "9.000001", name: str = "Đăng ký khai sinh", **extra: Any) -> Procedure:
        sector, _ = Sector.objects.get_or_create(
            code="ho-tich", defaults={"name": "Hộ tịch", "name_en": "Civil status"}
        )
        event, _ = LifeEvent.objects.get_or_create(
            code="sinh-con", defaults={"name": "Sinh con", "name_en": "Having a baby"}
        )
        values: dict[str, Any] = {
            "name_en": "Birth registration",
            "sector": sector,
            "agency_kind": "commune_committee",
            "deadline_days": Decimal("1.0"),
            "result_title": "Giấy khai sinh",
            "result_fields": ["child_name"],
        }
        values.update(extra)
        procedure = Procedure.objects.create(code=code, name=name, **values)
        procedure.life_events.add(event)
        RequiredPaper.objects.create(procedure=procedure, code="to-khai", name="Tờ khai")
        FormField.objects.create(
            procedure=procedure, name="child_name", label="Họ tên", label_en="Name", max_length=20
        )
        for order, (role, share) in enumerate(
            [(Role.RECEIVING_OFFICER, 10), (Role.PROCESSING_OFFICER, 60), (Role.APPROVER, 30)]
        ):
            ProcessingStep.objects.create(
                procedure=procedure, name=f"B{order}", role=role, share=share, order=order
            )
        return procedure

    return make
