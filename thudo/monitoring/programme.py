"""Hanoi's digital-transformation programme as data, and `programme_load()` that writes it.

What it holds:

* Resolution 18-NQ/TU of the city Party Committee's Standing Committee (30 December 2022) on
  digital transformation and the smart city to 2025, with orientation to 2030 — the top-level
  programme, monitored by the city People's Committee ("HN"); its implementation Plan
  239/KH-UBND (2023) of the People's Committee as a child programme. The pillars, targets,
  indicators and reporting periods hang on the Resolution (the plan's work is the tasks under
  the Resolution's targets), so the dashboards and the reporting rules read one programme.
* Four pillars: digital government, digital economy, digital society, digitisation.
* Every 2025 target of the Resolution (and the 2030 digital-economy one), plus the targets that
  Thudo measures live from its own registries (dossiers, citizen feedback; deadline end of 2026,
  set for the demo). Each with a baseline, unit, direction, deadline and responsible agency.
  Baselines are demo assumptions unless the description says otherwise ("demo baseline").
* Indicators: computed ones name a registry indicator (`core.registry`) — the sources Thudo does
  not have yet ("payments.electronic_share", "exchange.registries_connected") are named all the
  same and show "no data" until a domain registers them; the others are reported by the
  responsible agency each quarter or year, with evidence.
* Reporting periods: the quarters and years of 2025–2026 (and of every later year up to the
  current one), each due 10 days after it ends.
* About forty tasks in the manner of Plan 239, with owners and deadlines (`TASKS`; the demo
  marks those flagged done as done, through the services).
* The components of the provincial digital-transformation index (DTI) for 2025, 1,000 points.

Documents processed digitally: the Resolution sets 90% (city) / 80% (district) / 60% (commune).
Hanoi has had no district level since 1 July 2025 (two-tier local government: the city and its
126 wards and communes, which took over most of the districts' work). Read here as: the city's
departments 90%; the wards and communes together 80% (the former district-level target, whose
work passed to them); and 60% as the floor for every single ward or commune (the former
commune-level target, measured as the lowest ward's or commune's rate).

Idempotent by codes: a programme, pillar, target, indicator, period or DTI component that
exists (same code) is left as it is — edits made since in the back office are kept — and only
what is missing is created; tasks are matched by target and title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from thudo.accounts.models import Agency

from .models import (
    Direction,
    DtiComponent,
    Indicator,
    Pillar,
    Programme,
    ReportingPeriod,
    Target,
    Task,
)

RESOLUTION = "nq-18-nq-tu-2022"
PLAN = "kh-239-kh-ubnd-2023"
MONITORING_OFFICE = "HN"
REPORT_DUE_DAYS = 10
FIRST_PERIOD_YEAR = 2025
LAST_PERIOD_YEAR = 2026
DTI_YEAR = 2025

PERCENT = "%"
RANK = "hạng"

END_2025 = date(2025, 12, 31)
END_2026 = date(2026, 12, 31)
END_2030 = date(2030, 12, 31)
RESOLUTION_DATE = date(2022, 12, 30)
BASELINE_DATE = date(2022, 12, 31)
LIVE_BASELINE_DATE = date(2025, 12, 31)

DEMO_BASELINE = "Số liệu gốc minh họa (demo baseline), không phải số liệu công bố."

Q = Indicator.Frequency.QUARTERLY
Y = Indicator.Frequency.YEARLY


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    name: str
    name_en: str
    kind: str  # Indicator.Kind
    source: str = ""  # registry indicator code, for computed indicators
    frequency: str = Q
    evidence_required: bool = True
    min_value: Decimal | None = Decimal(0)
    max_value: Decimal | None = Decimal(100)
    is_primary: bool = True
    agency: str = ""  # default: the target's agency

    @property
    def computed(self) -> bool:
        return self.kind == Indicator.Kind.COMPUTED


def computed(code: str, source: str, name: str, name_en: str) -> IndicatorSpec:
    return IndicatorSpec(
        code, name, name_en, Indicator.Kind.COMPUTED, source=source, evidence_required=False
    )


def reported(
    code: str,
    name: str,
    name_en: str,
    *,
    frequency: str = Q,
    min_value: Decimal | None = Decimal(0),
    max_value: Decimal | None = Decimal(100),
    is_primary: bool = True,
) -> IndicatorSpec:
    return IndicatorSpec(
        code,
        name,
        name_en,
        Indicator.Kind.REPORTED,
        frequency=frequency,
        min_value=min_value,
        max_value=max_value,
        is_primary=is_primary,
    )


@dataclass(frozen=True)
class TargetSpec:
    pillar: str
    code: str
    name: str
    name_en: str
    description: str
    target_value: Decimal
    deadline: date
    agency: str
    indicators: tuple[IndicatorSpec, ...]
    unit: str = PERCENT
    direction: str = Direction.UP
    baseline: Decimal | None = None
    baseline_date: date | None = BASELINE_DATE
    live: bool = False  # measured by Thudo from its own registries


@dataclass(frozen=True)
class PillarSpec:
    code: str
    name: str
    name_en: str
    order: int


@dataclass(frozen=True)
class TaskSpec:
    target: str
    title: str
    agency: str
    due: date
    done: bool = False  # the demo marks it done (programme_load creates every task open)


@dataclass(frozen=True)
class DtiSpec:
    group: str  # DtiComponent.Group
    code: str
    name: str
    name_en: str
    max_points: Decimal
    indicator: str = ""  # computed from this indicator's share of its target


@dataclass(frozen=True)
class ProgrammeSpec:
    code: str
    name: str
    name_en: str
    legal_basis: str
    start: date
    end: date
    parent: str = ""
    pillars: tuple[PillarSpec, ...] = field(default=())


def _d(value: str | int | float) -> Decimal:
    return Decimal(str(value))


# --- the programmes ----------------------------------------------------------------------------

PILLARS = (
    PillarSpec("chinh-quyen-so", "Chính quyền số", "Digital government", 10),
    PillarSpec("kinh-te-so", "Kinh tế số", "Digital economy", 20),
    PillarSpec("xa-hoi-so", "Xã hội số", "Digital society", 30),
    PillarSpec("so-hoa", "Số hóa", "Digitisation", 40),
)

PROGRAMMES = (
    ProgrammeSpec(
        code=RESOLUTION,
        name=(
            "Nghị quyết số 18-NQ/TU về chuyển đổi số, xây dựng thành phố thông minh "
            "thành phố Hà Nội đến năm 2025, định hướng đến năm 2030"
        ),
        name_en=(
            "Resolution 18-NQ/TU on digital transformation and building Hanoi as a smart city "
            "to 2025, with orientation to 2030"
        ),
        legal_basis=("Nghị quyết số 18-NQ/TU ngày 30/12/2022 của Ban Thường vụ Thành ủy Hà Nội"),
        start=RESOLUTION_DATE,
        end=END_2030,
        pillars=PILLARS,
    ),
    ProgrammeSpec(
        code=PLAN,
        name="Kế hoạch số 239/KH-UBND thực hiện Nghị quyết số 18-NQ/TU của Thành ủy",
        name_en="Plan 239/KH-UBND implementing the city Party Committee's Resolution 18-NQ/TU",
        legal_basis=(
            "Kế hoạch số 239/KH-UBND năm 2023 của Ủy ban nhân dân thành phố Hà Nội; các nhiệm vụ "
            "của kế hoạch được theo dõi dưới các chỉ tiêu của Nghị quyết"
        ),
        start=date(2023, 1, 1),
        end=END_2030,
        parent=RESOLUTION,
    ),
)

# --- the targets -------------------------------------------------------------------------------

TARGETS: tuple[TargetSpec, ...] = (
    # Digital government
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-dvc-toan-trinh-2025",
        name=(
            "100% thủ tục hành chính đủ điều kiện được cung cấp dịch vụ công trực tuyến toàn "
            "trình (mức độ 4), sử dụng được trên thiết bị di động"
        ),
        name_en=(
            "100% of eligible procedures offered as full-process online services (level 4), "
            "usable on mobile devices"
        ),
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU. Trung tâm Phục vụ hành chính công báo "
            "cáo hằng quý tỷ lệ thủ tục đủ điều kiện đã cung cấp toàn trình, kèm danh mục thủ "
            "tục. " + DEMO_BASELINE
        ),
        target_value=_d(100),
        deadline=END_2025,
        agency="HN-TTPVHCC",
        baseline=_d(45),
        indicators=(
            reported(
                "cqs-dvc-toan-trinh",
                "Tỷ lệ thủ tục đủ điều kiện được cung cấp trực tuyến toàn trình",
                "Share of eligible procedures offered as full-process online services",
            ),
            reported(
                "cqs-dvc-di-dong",
                "Tỷ lệ dịch vụ công trực tuyến toàn trình sử dụng được trên thiết bị di động",
                "Share of full-process online services usable on mobile devices",
                is_primary=False,
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-van-ban-so-thanh-pho-2025",
        name="90% văn bản, hồ sơ công việc của các sở, ngành Thành phố được xử lý trên môi "
        "trường số",
        name_en="90% of the city departments' documents and work files processed digitally",
        description=(
            "Chỉ tiêu 90% (cấp thành phố) của Nghị quyết 18-NQ/TU, áp dụng cho các sở, ban, "
            "ngành. Sở Nội vụ báo cáo hằng quý từ hệ thống quản lý văn bản và điều hành. "
            + DEMO_BASELINE
        ),
        target_value=_d(90),
        deadline=END_2025,
        agency="HN-SNV",
        baseline=_d(70),
        indicators=(
            reported(
                "cqs-van-ban-so-thanh-pho",
                "Tỷ lệ văn bản, hồ sơ công việc cấp sở, ngành xử lý trên môi trường số",
                "Share of documents and work files of city departments processed digitally",
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-van-ban-so-phuong-xa-2025",
        name="80% văn bản, hồ sơ công việc của các phường, xã được xử lý trên môi trường số",
        name_en="80% of the wards' and communes' documents and work files processed digitally",
        description=(
            "Nghị quyết đặt 90% (thành phố) / 80% (cấp huyện) / 60% (cấp xã). Từ 01/7/2025 Hà "
            "Nội không còn cấp huyện; công việc của cấp huyện chuyển về 126 phường, xã. Chỉ "
            "tiêu 80% của cấp huyện được hiểu là tỷ lệ chung của các phường, xã. " + DEMO_BASELINE
        ),
        target_value=_d(80),
        deadline=END_2025,
        agency="HN-SNV",
        baseline=_d(40),
        indicators=(
            reported(
                "cqs-van-ban-so-phuong-xa",
                "Tỷ lệ văn bản, hồ sơ công việc của các phường, xã xử lý trên môi trường số",
                "Share of the wards' and communes' documents processed digitally (all together)",
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-van-ban-so-toi-thieu-2025",
        name="Mọi phường, xã xử lý ít nhất 60% văn bản, hồ sơ công việc trên môi trường số",
        name_en="Every ward and commune processes at least 60% of its documents digitally",
        description=(
            "Chỉ tiêu 60% (cấp xã) của Nghị quyết 18-NQ/TU, sau khi bỏ cấp huyện được hiểu là "
            "mức tối thiểu cho từng phường, xã: đo bằng tỷ lệ của phường, xã thấp nhất. "
            + DEMO_BASELINE
        ),
        target_value=_d(60),
        deadline=END_2025,
        agency="HN-SNV",
        baseline=_d(15),
        indicators=(
            reported(
                "cqs-van-ban-so-thap-nhat",
                "Tỷ lệ xử lý văn bản trên môi trường số của phường, xã thấp nhất",
                "The lowest ward's or commune's share of documents processed digitally",
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-thanh-tra-so-2025",
        name="50% hoạt động kiểm tra, thanh tra được thực hiện thông qua môi trường số",
        name_en="50% of inspections carried out digitally",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU. Thanh tra Thành phố không có trong dữ "
            "liệu mẫu; Sở Nội vụ tổng hợp, báo cáo hằng quý. " + DEMO_BASELINE
        ),
        target_value=_d(50),
        deadline=END_2025,
        agency="HN-SNV",
        baseline=_d(5),
        indicators=(
            reported(
                "cqs-thanh-tra-so",
                "Tỷ lệ cuộc kiểm tra, thanh tra thực hiện thông qua môi trường số",
                "Share of inspections carried out digitally",
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-xep-hang-dti-2025",
        name="Hà Nội thuộc nhóm 5 địa phương dẫn đầu về chỉ số chuyển đổi số (DTI)",
        name_en="Hanoi among the top five localities in the digital-transformation index (DTI)",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU: thứ hạng DTI cấp tỉnh do Bộ Khoa học "
            "và Công nghệ công bố hằng năm (thấp hơn là tốt hơn). " + DEMO_BASELINE
        ),
        target_value=_d(5),
        deadline=END_2025,
        agency="HN-SKHCN",
        unit=RANK,
        direction=Direction.DOWN,
        baseline=_d(8),
        indicators=(
            reported(
                "cqs-xep-hang-dti",
                "Thứ hạng của Hà Nội trong bảng xếp hạng DTI cấp tỉnh",
                "Hanoi's rank in the provincial DTI",
                frequency=Y,
                min_value=_d(1),
                max_value=_d(63),
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-ho-so-truc-tuyen-2026",
        name="80% hồ sơ thủ tục hành chính được nộp trực tuyến",
        name_en="80% of administrative dossiers submitted online",
        description=(
            "Đo trực tiếp trên Thudo (hồ sơ nộp trực tuyến / hồ sơ tiếp nhận, từ đầu năm). Chỉ "
            "tiêu năm 2026 đặt cho dữ liệu mẫu. " + DEMO_BASELINE
        ),
        target_value=_d(80),
        deadline=END_2026,
        agency="HN-TTPVHCC",
        baseline=_d(55),
        baseline_date=LIVE_BASELINE_DATE,
        live=True,
        indicators=(
            computed(
                "cqs-ho-so-truc-tuyen",
                "dossiers.online_rate",
                "Tỷ lệ hồ sơ nộp trực tuyến (từ đầu năm)",
                "Share of dossiers submitted online (year to date)",
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-ho-so-dung-han-2026",
        name="95% hồ sơ thủ tục hành chính được giải quyết đúng hạn",
        name_en="95% of administrative dossiers settled on time",
        description=(
            "Đo trực tiếp trên Thudo theo Quyết định 766/QĐ-TTg (hồ sơ giải quyết đúng hạn / "
            "hồ sơ đã giải quyết, từ đầu năm). Chỉ tiêu năm 2026 đặt cho dữ liệu mẫu. "
            + DEMO_BASELINE
        ),
        target_value=_d(95),
        deadline=END_2026,
        agency="HN-TTPVHCC",
        baseline=_d(90),
        baseline_date=LIVE_BASELINE_DATE,
        live=True,
        indicators=(
            computed(
                "cqs-ho-so-dung-han",
                "dossiers.on_time_rate",
                "Tỷ lệ hồ sơ giải quyết đúng hạn (từ đầu năm)",
                "Share of dossiers settled on time (year to date)",
            ),
        ),
    ),
    TargetSpec(
        pillar="chinh-quyen-so",
        code="cqs-hai-long-2026",
        name="Mức độ hài lòng của người dân, doanh nghiệp đạt từ 90 điểm trở lên",
        name_en="Citizens' and businesses' satisfaction of at least 90 out of 100",
        description=(
            "Đo trực tiếp trên Thudo từ đánh giá của người nộp hồ sơ (thang 100, từ đầu năm). "
            "Chỉ tiêu năm 2026 đặt cho dữ liệu mẫu. " + DEMO_BASELINE
        ),
        target_value=_d(90),
        deadline=END_2026,
        agency="HN-SNV",
        unit="điểm",
        baseline=_d(70),
        baseline_date=LIVE_BASELINE_DATE,
        live=True,
        indicators=(
            computed(
                "cqs-hai-long",
                "dossiers.satisfaction",
                "Mức độ hài lòng với việc giải quyết thủ tục hành chính (thang 100)",
                "Satisfaction with administrative procedures (out of 100)",
            ),
        ),
    ),
    # Digital economy
    TargetSpec(
        pillar="kinh-te-so",
        code="kts-ty-trong-grdp-2025",
        name="Kinh tế số chiếm khoảng 30% GRDP của Thành phố",
        name_en="The digital economy makes up about 30% of the city's GRDP",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU. Số liệu chính thức hằng năm do Sở Tài "
            "chính tổng hợp. " + DEMO_BASELINE
        ),
        target_value=_d(30),
        deadline=END_2025,
        agency="HN-STC",
        baseline=_d(17),
        indicators=(
            reported(
                "kts-ty-trong-grdp",
                "Tỷ trọng kinh tế số trong GRDP (số liệu năm)",
                "Digital economy's share of GRDP (yearly figure)",
                frequency=Y,
            ),
        ),
    ),
    TargetSpec(
        pillar="kinh-te-so",
        code="kts-ty-trong-grdp-2030",
        name="Kinh tế số chiếm trên 40% GRDP của Thành phố",
        name_en="The digital economy makes up more than 40% of the city's GRDP",
        description=(
            'Định hướng đến năm 2030 của Nghị quyết 18-NQ/TU ("trên 40%": theo dõi với ngưỡng '
            "40%). Theo dõi bằng số ước tính hằng quý của Sở Tài chính. " + DEMO_BASELINE
        ),
        target_value=_d(40),
        deadline=END_2030,
        agency="HN-STC",
        baseline=_d(17),
        indicators=(
            reported(
                "kts-ty-trong-grdp-uoc-quy",
                "Tỷ trọng kinh tế số trong GRDP (ước tính quý)",
                "Digital economy's share of GRDP (quarterly estimate)",
            ),
        ),
    ),
    TargetSpec(
        pillar="kinh-te-so",
        code="kts-nang-suat-lao-dong-2025",
        name="Tốc độ tăng năng suất lao động đạt 7–7,5%/năm",
        name_en="Labour productivity growing by 7–7.5% a year",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU; theo dõi với ngưỡng dưới 7%. Số liệu "
            "năm do Sở Tài chính tổng hợp. " + DEMO_BASELINE
        ),
        target_value=_d(7),
        deadline=END_2025,
        agency="HN-STC",
        baseline=_d("6.2"),
        indicators=(
            reported(
                "kts-nang-suat-lao-dong",
                "Tốc độ tăng năng suất lao động",
                "Labour productivity growth",
                frequency=Y,
                min_value=_d(-50),
                max_value=_d(50),
            ),
        ),
    ),
    # Digital society
    TargetSpec(
        pillar="xa-hoi-so",
        code="xhs-cap-quang-ho-gia-dinh-2025",
        name="Trên 80% hộ gia đình được phủ mạng băng rộng cáp quang",
        name_en="More than 80% of households covered by fibre broadband",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU (theo dõi với ngưỡng 80%). Sở Khoa học "
            "và Công nghệ báo cáo hằng quý từ số liệu của doanh nghiệp viễn thông. " + DEMO_BASELINE
        ),
        target_value=_d(80),
        deadline=END_2025,
        agency="HN-SKHCN",
        baseline=_d(70),
        indicators=(
            reported(
                "xhs-cap-quang-ho-gia-dinh",
                "Tỷ lệ hộ gia đình được phủ mạng băng rộng cáp quang",
                "Share of households covered by fibre broadband",
            ),
        ),
    ),
    TargetSpec(
        pillar="xa-hoi-so",
        code="xhs-cap-quang-phuong-xa-2025",
        name="100% phường, xã được phủ mạng băng rộng cáp quang",
        name_en="Every ward and commune covered by fibre broadband",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU (100% xã; sau sắp xếp là 126 phường, "
            "xã). " + DEMO_BASELINE
        ),
        target_value=_d(100),
        deadline=END_2025,
        agency="HN-SKHCN",
        baseline=_d(90),
        indicators=(
            reported(
                "xhs-cap-quang-phuong-xa",
                "Tỷ lệ phường, xã được phủ mạng băng rộng cáp quang",
                "Share of wards and communes covered by fibre broadband",
            ),
        ),
    ),
    TargetSpec(
        pillar="xa-hoi-so",
        code="xhs-thanh-toan-dien-tu-2025",
        name="Trên 50% người dân có tài khoản thanh toán điện tử",
        name_en="More than 50% of residents with an electronic payment account",
        description=(
            "Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU (theo dõi với ngưỡng 50%). Nguồn "
            '"payments.electronic_share" chưa có trên Thudo: hiển thị "chưa có số liệu" cho '
            "đến khi được kết nối. " + DEMO_BASELINE
        ),
        target_value=_d(50),
        deadline=END_2025,
        agency="HN-SCT",
        baseline=_d(35),
        indicators=(
            computed(
                "xhs-thanh-toan-dien-tu",
                "payments.electronic_share",
                "Tỷ lệ người dân có tài khoản thanh toán điện tử",
                "Share of residents with an electronic payment account",
            ),
        ),
    ),
    TargetSpec(
        pillar="xa-hoi-so",
        code="xhs-phan-anh-dung-han-2026",
        name="90% phản ánh, kiến nghị của người dân được xử lý đúng hạn",
        name_en="90% of citizen reports resolved on time",
        description=(
            "Đo trực tiếp trên Thudo (phản ánh trả lời đúng hạn / phản ánh đã trả lời, từ đầu "
            "năm). Chỉ tiêu năm 2026 đặt cho dữ liệu mẫu. " + DEMO_BASELINE
        ),
        target_value=_d(90),
        deadline=END_2026,
        agency="HN-SKHCN",
        baseline=_d(75),
        baseline_date=LIVE_BASELINE_DATE,
        live=True,
        indicators=(
            computed(
                "xhs-phan-anh-dung-han",
                "feedback.on_time_rate",
                "Tỷ lệ phản ánh được trả lời đúng hạn (từ đầu năm)",
                "Share of citizen reports answered on time (year to date)",
            ),
        ),
    ),
    TargetSpec(
        pillar="xa-hoi-so",
        code="xhs-phan-anh-hai-long-2026",
        name="80% người phản ánh hài lòng với kết quả xử lý",
        name_en="80% of people who reported a problem satisfied with the answer",
        description=(
            "Đo trực tiếp trên Thudo (đánh giá hài lòng / số đánh giá, từ đầu năm). Chỉ tiêu năm "
            "2026 đặt cho dữ liệu mẫu. " + DEMO_BASELINE
        ),
        target_value=_d(80),
        deadline=END_2026,
        agency="HN-SKHCN",
        baseline=_d(65),
        baseline_date=LIVE_BASELINE_DATE,
        live=True,
        indicators=(
            computed(
                "xhs-phan-anh-hai-long",
                "feedback.satisfaction",
                "Tỷ lệ đánh giá hài lòng với trả lời phản ánh (từ đầu năm)",
                "Share of answers rated satisfactory (year to date)",
            ),
        ),
    ),
    # Digitisation
    TargetSpec(
        pillar="so-hoa",
        code="sh-csdl-ket-noi-2025",
        name="100% cơ sở dữ liệu chuyên ngành được kết nối với cơ sở dữ liệu quốc gia",
        name_en="100% of sector databases connected to the national databases",
        description=(
            'Chỉ tiêu năm 2025 của Nghị quyết 18-NQ/TU. Nguồn "exchange.registries_connected" '
            '(nền tảng chia sẻ dữ liệu) chưa có trên Thudo: hiển thị "chưa có số liệu" cho '
            "đến khi được kết nối. " + DEMO_BASELINE
        ),
        target_value=_d(100),
        deadline=END_2025,
        agency="HN-SKHCN",
        baseline=_d(40),
        indicators=(
            computed(
                "sh-csdl-ket-noi",
                "exchange.registries_connected",
                "Tỷ lệ cơ sở dữ liệu chuyên ngành đã kết nối với cơ sở dữ liệu quốc gia",
                "Share of sector databases connected to the national databases",
            ),
        ),
    ),
    TargetSpec(
        pillar="so-hoa",
        code="sh-so-hoa-ho-so-2026",
        name="100% hồ sơ, kết quả giải quyết thủ tục hành chính được số hóa",
        name_en="100% of administrative dossiers and their results digitised",
        description=(
            "Đo trực tiếp trên Thudo (hồ sơ có thành phần và kết quả lưu dạng số / hồ sơ tiếp "
            "nhận, từ đầu năm). Chỉ tiêu năm 2026 đặt cho dữ liệu mẫu. " + DEMO_BASELINE
        ),
        target_value=_d(100),
        deadline=END_2026,
        agency="HN-TTPVHCC",
        baseline=_d(60),
        baseline_date=LIVE_BASELINE_DATE,
        live=True,
        indicators=(
            computed(
                "sh-so-hoa-ho-so",
                "dossiers.digitisation_rate",
                "Tỷ lệ hồ sơ được số hóa thành phần và kết quả (từ đầu năm)",
                "Share of dossiers with papers and result stored digitally (year to date)",
            ),
        ),
    ),
)

# --- the tasks (in the manner of Plan 239) ----------------------------------------------------

TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(
        "cqs-dvc-toan-trinh-2025",
        "Rà soát, tái cấu trúc quy trình các thủ tục đủ điều kiện cung cấp trực tuyến toàn trình",
        "HN-TTPVHCC",
        date(2025, 6, 30),
        done=True,
    ),
    TaskSpec(
        "cqs-dvc-toan-trinh-2025",
        "Tích hợp các dịch vụ công trực tuyến toàn trình lên Cổng Dịch vụ công quốc gia",
        "HN-TTPVHCC",
        date(2025, 9, 30),
        done=True,
    ),
    TaskSpec(
        "cqs-dvc-toan-trinh-2025",
        "Tối ưu giao diện dịch vụ công trực tuyến cho thiết bị di động",
        "HN-SKHCN",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "cqs-dvc-toan-trinh-2025",
        "Kiểm thử trên thiết bị di động các dịch vụ công có nhiều hồ sơ nhất",
        "HN-SKHCN",
        date(2026, 12, 15),
    ),
    TaskSpec(
        "cqs-ho-so-truc-tuyen-2026",
        "Hướng dẫn, hỗ trợ người dân nộp hồ sơ trực tuyến tại bộ phận một cửa phường, xã",
        "HN-TTPVHCC",
        date(2026, 12, 31),
    ),
    TaskSpec(
        "cqs-ho-so-truc-tuyen-2026",
        "Trình HĐND Thành phố miễn, giảm phí, lệ phí đối với hồ sơ nộp trực tuyến",
        "HN-STC",
        date(2026, 6, 30),
    ),
    TaskSpec(
        "cqs-ho-so-dung-han-2026",
        "Công khai hồ sơ quá hạn và văn bản xin lỗi trên Cổng dịch vụ công Thành phố",
        "HN-TTPVHCC",
        date(2026, 3, 31),
        done=True,
    ),
    TaskSpec(
        "cqs-ho-so-dung-han-2026",
        "Đôn đốc các sở, ngành, phường, xã giải quyết hồ sơ tồn đọng, quá hạn",
        "HN-SNV",
        date(2026, 11, 30),
    ),
    TaskSpec(
        "cqs-hai-long-2026",
        "Khảo sát mức độ hài lòng của người dân, doanh nghiệp năm 2026",
        "HN-SNV",
        date(2026, 10, 31),
    ),
    TaskSpec(
        "cqs-van-ban-so-thanh-pho-2025",
        "Triển khai hệ thống quản lý văn bản và điều hành liên thông từ Thành phố đến phường, xã",
        "HN-SNV",
        date(2025, 6, 30),
        done=True,
    ),
    TaskSpec(
        "cqs-van-ban-so-thanh-pho-2025",
        "Cấp chứng thư chữ ký số chuyên dùng cho lãnh đạo, công chức các sở, ngành",
        "HN-SKHCN",
        date(2025, 9, 30),
        done=True,
    ),
    TaskSpec(
        "cqs-van-ban-so-phuong-xa-2025",
        "Cấp chữ ký số cho cán bộ, công chức 126 phường, xã sau sắp xếp đơn vị hành chính",
        "HN-SNV",
        date(2025, 10, 31),
        done=True,
    ),
    TaskSpec(
        "cqs-van-ban-so-phuong-xa-2025",
        "Đào tạo xử lý văn bản trên môi trường số cho cán bộ phường, xã",
        "HN-SNV",
        date(2026, 6, 30),
    ),
    TaskSpec(
        "cqs-van-ban-so-toi-thieu-2025",
        "Hỗ trợ thiết bị, đường truyền cho các xã có tỷ lệ văn bản điện tử thấp",
        "HN-SKHCN",
        date(2026, 9, 30),
    ),
    TaskSpec(
        "cqs-thanh-tra-so-2025",
        "Xây dựng phần mềm quản lý hoạt động thanh tra, kiểm tra trên môi trường số",
        "HN-SNV",
        date(2025, 12, 31),
    ),
    TaskSpec(
        "cqs-thanh-tra-so-2025",
        "Kết nối dữ liệu thanh tra của Thành phố với cơ sở dữ liệu quốc gia về thanh tra",
        "HN-SNV",
        date(2026, 12, 31),
    ),
    TaskSpec(
        "cqs-xep-hang-dti-2025",
        "Tự đánh giá, chấm điểm chỉ số DTI năm 2025 và gửi Bộ Khoa học và Công nghệ",
        "HN-SKHCN",
        date(2026, 3, 31),
        done=True,
    ),
    TaskSpec(
        "cqs-xep-hang-dti-2025",
        "Kế hoạch khắc phục các chỉ số thành phần DTI đạt điểm thấp",
        "HN-SKHCN",
        date(2026, 6, 30),
        done=True,
    ),
    TaskSpec(
        "kts-ty-trong-grdp-2025",
        "Xây dựng phương pháp đo lường tỷ trọng kinh tế số trong GRDP của Thành phố",
        "HN-STC",
        date(2025, 6, 30),
        done=True,
    ),
    TaskSpec(
        "kts-ty-trong-grdp-2025",
        "Chương trình hỗ trợ doanh nghiệp nhỏ và vừa chuyển đổi số",
        "HN-SCT",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "kts-ty-trong-grdp-2030",
        "Đưa 5.000 cơ sở sản xuất, kinh doanh lên sàn thương mại điện tử",
        "HN-SCT",
        date(2027, 12, 31),
    ),
    TaskSpec(
        "kts-ty-trong-grdp-2030",
        "Hình thành khu công nghệ số tập trung và trung tâm đổi mới sáng tạo",
        "HN-SKHCN",
        date(2028, 12, 31),
    ),
    TaskSpec(
        "kts-nang-suat-lao-dong-2025",
        "Đánh giá tác động của chuyển đổi số đến năng suất lao động năm 2025",
        "HN-STC",
        date(2026, 4, 30),
    ),
    TaskSpec(
        "xhs-cap-quang-ho-gia-dinh-2025",
        "Phủ cáp quang đến các khu dân cư mới và khu nhà ở xã hội",
        "HN-SKHCN",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "xhs-cap-quang-ho-gia-dinh-2025",
        "Hỗ trợ hộ nghèo, cận nghèo thiết bị thông minh và gói cước internet",
        "HN-SKHCN",
        date(2026, 12, 31),
    ),
    TaskSpec(
        "xhs-cap-quang-phuong-xa-2025",
        "Hoàn thành kéo cáp quang đến các thôn vùng xa của các xã ngoại thành",
        "HN-SKHCN",
        date(2025, 9, 30),
        done=True,
    ),
    TaskSpec(
        "xhs-thanh-toan-dien-tu-2025",
        "Thanh toán không dùng tiền mặt viện phí tại các bệnh viện công lập",
        "HN-SYT",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "xhs-thanh-toan-dien-tu-2025",
        "Thu học phí không dùng tiền mặt tại các trường công lập",
        "HN-SGDDT",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "xhs-thanh-toan-dien-tu-2025",
        "Phối hợp ngân hàng thống kê tỷ lệ người dân có tài khoản thanh toán điện tử",
        "HN-SCT",
        date(2026, 9, 30),
    ),
    TaskSpec(
        "xhs-phan-anh-dung-han-2026",
        "Kết nối phản ánh hiện trường với hệ thống xử lý của các phường, xã",
        "HN-SKHCN",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "xhs-phan-anh-dung-han-2026",
        "Đánh giá, xếp hạng hằng tháng các đơn vị xử lý phản ánh chậm",
        "HN-SKHCN",
        date(2026, 12, 31),
    ),
    TaskSpec(
        "xhs-phan-anh-hai-long-2026",
        "Chuẩn hóa mẫu trả lời phản ánh của người dân",
        "HN-SKHCN",
        date(2026, 8, 31),
    ),
    TaskSpec(
        "sh-csdl-ket-noi-2025",
        "Kết nối cơ sở dữ liệu đất đai Thành phố với cơ sở dữ liệu đất đai quốc gia",
        "HN-SNNMT",
        date(2025, 12, 31),
    ),
    TaskSpec(
        "sh-csdl-ket-noi-2025",
        "Kết nối cơ sở dữ liệu hộ tịch điện tử với Cơ sở dữ liệu quốc gia về dân cư",
        "HN-STP",
        date(2025, 6, 30),
        done=True,
    ),
    TaskSpec(
        "sh-csdl-ket-noi-2025",
        "Kết nối hồ sơ sức khỏe điện tử của Thành phố với ứng dụng VNeID",
        "HN-SYT",
        date(2025, 12, 31),
        done=True,
    ),
    TaskSpec(
        "sh-csdl-ket-noi-2025",
        "Kết nối cơ sở dữ liệu giáo dục của Thành phố với cơ sở dữ liệu ngành giáo dục",
        "HN-SGDDT",
        date(2025, 9, 30),
        done=True,
    ),
    TaskSpec(
        "sh-csdl-ket-noi-2025",
        "Nâng cấp nền tảng tích hợp, chia sẻ dữ liệu của Thành phố (LGSP)",
        "HN-SKHCN",
        date(2026, 12, 31),
    ),
    TaskSpec(
        "sh-so-hoa-ho-so-2026",
        "Số hóa kết quả giải quyết thủ tục hành chính còn hiệu lực tại phường, xã",
        "HN-TTPVHCC",
        date(2026, 6, 30),
    ),
    TaskSpec(
        "sh-so-hoa-ho-so-2026",
        "Số hóa sổ hộ tịch lưu trữ giai đoạn 2025–2026",
        "HN-STP",
        date(2026, 12, 31),
    ),
    TaskSpec(
        "sh-so-hoa-ho-so-2026",
        "Tái sử dụng dữ liệu đã số hóa, không yêu cầu người dân nộp lại giấy tờ",
        "HN-TTPVHCC",
        date(2026, 12, 20),
    ),
)

# --- DTI 2025 (foundation and activity indices; weights are demo assumptions) ------------------

F = DtiComponent.Group.FOUNDATION
DTI: tuple[DtiSpec, ...] = (
    DtiSpec(F, "nhan-thuc-so", "Nhận thức số", "Digital awareness", _d(60)),
    DtiSpec(F, "the-che-so", "Thể chế số", "Digital institutions", _d(60)),
    DtiSpec(
        F,
        "ha-tang-so",
        "Hạ tầng số",
        "Digital infrastructure",
        _d(120),
        indicator="xhs-cap-quang-ho-gia-dinh",
    ),
    DtiSpec(F, "nhan-luc-so", "Nhân lực số", "Digital human resources", _d(80)),
    DtiSpec(F, "an-toan-thong-tin", "An toàn thông tin mạng", "Cybersecurity", _d(80)),
    DtiSpec(
        DtiComponent.Group.GOVERNMENT,
        "hoat-dong-chinh-quyen-so",
        "Hoạt động chính quyền số",
        "Digital government activity",
        _d(300),
    ),
    DtiSpec(
        DtiComponent.Group.ECONOMY,
        "hoat-dong-kinh-te-so",
        "Hoạt động kinh tế số",
        "Digital economy activity",
        _d(150),
    ),
    DtiSpec(
        DtiComponent.Group.SOCIETY,
        "hoat-dong-xa-hoi-so",
        "Hoạt động xã hội số",
        "Digital society activity",
        _d(150),
    ),
)
DTI_MAX_POINTS = sum((c.max_points for c in DTI), Decimal(0))  # 1,000


def agency_codes() -> list[str]:
    """Every agency the programme names (they must exist before `programme_load`)."""
    codes = {MONITORING_OFFICE}
    for t in TARGETS:
        codes.add(t.agency)
        codes.update(i.agency for i in t.indicators if i.agency)
    codes.update(task.agency for task in TASKS)
    return sorted(codes)


def responsible_agency_codes() -> list[str]:
    """The agencies that answer for a target, report an indicator or own a task (the monitoring
    office aside): each gets a monitoring officer in the demo."""
    return [c for c in agency_codes() if c != MONITORING_OFFICE]


# --- loading -----------------------------------------------------------------------------------


def _periods(programme: Programme, today: date) -> int:
    """The quarters and years from FIRST_PERIOD_YEAR to the later of LAST_PERIOD_YEAR and this
    year, each due REPORT_DUE_DAYS after it ends."""
    have = set(
        ReportingPeriod.objects.filter(programme=programme).values_list("frequency", "start")
    )
    new = []
    for year in range(FIRST_PERIOD_YEAR, max(LAST_PERIOD_YEAR, today.year) + 1):
        spans = [
            (Q, date(year, m, 1), date(year + (m == 10), (m + 3) % 12, 1)) for m in (1, 4, 7, 10)
        ]
        spans.append((Y, date(year, 1, 1), date(year + 1, 1, 1)))
        for frequency, start, after in spans:
            if (frequency, start) in have:
                continue
            end = after - timedelta(days=1)
            new.append(
                ReportingPeriod(
                    programme=programme,
                    frequency=frequency,
                    start=start,
                    end=end,
                    due=end + timedelta(days=REPORT_DUE_DAYS),
                )
            )
    ReportingPeriod.objects.bulk_create(new)
    return len(new)


def _agencies() -> dict[str, Agency]:
    codes = agency_codes()
    found = {a.code: a for a in Agency.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise LookupError(
            "The programme names agencies that do not exist (load the accounts demo or create "
            "them first): " + ", ".join(missing)
        )
    return found


@dataclass
class LoadResult:
    programme: Programme
    created: dict[str, int] = field(default_factory=dict)


@transaction.atomic
def programme_load_counted(*, today: date | None = None) -> LoadResult:
    """`programme_load`, with the number of rows created per kind."""
    day = today or timezone.localdate()
    agencies = _agencies()
    office = agencies[MONITORING_OFFICE]
    created: dict[str, int] = {}

    def count(kind: str, made: bool) -> None:
        created[kind] = created.get(kind, 0) + int(made)

    programmes: dict[str, Programme] = {}
    for prog in PROGRAMMES:
        programme, made = Programme.objects.get_or_create(
            code=prog.code,
            defaults={
                "name": prog.name,
                "name_en": prog.name_en,
                "legal_basis": prog.legal_basis,
                "parent": programmes.get(prog.parent),
                "start": prog.start,
                "end": prog.end,
                "agency": office,
            },
        )
        programmes[prog.code] = programme
        count("programmes", made)
    resolution = programmes[RESOLUTION]

    pillars: dict[str, Pillar] = {}
    for p in PILLARS:
        pillar, made = Pillar.objects.get_or_create(
            programme=resolution,
            code=p.code,
            defaults={"name": p.name, "name_en": p.name_en, "order": p.order},
        )
        pillars[p.code] = pillar
        count("pillars", made)

    targets = {t.code: t for t in Target.objects.filter(code__in=[s.code for s in TARGETS])}
    indicators = {
        i.code: i
        for i in Indicator.objects.filter(code__in=[i.code for s in TARGETS for i in s.indicators])
    }
    for order, spec in enumerate(TARGETS, start=1):
        target = targets.get(spec.code)
        if target is None:
            target = Target.objects.create(
                pillar=pillars[spec.pillar],
                code=spec.code,
                name=spec.name,
                name_en=spec.name_en,
                description=spec.description,
                unit=spec.unit,
                direction=spec.direction,
                baseline=spec.baseline,
                baseline_date=spec.baseline_date if spec.baseline is not None else None,
                target_value=spec.target_value,
                deadline=spec.deadline,
                agency=agencies[spec.agency],
                order=order * 10,
            )
            targets[spec.code] = target
            count("targets", True)
        for i_order, ind in enumerate(spec.indicators, start=1):
            if ind.code in indicators:
                continue
            indicators[ind.code] = Indicator.objects.create(
                target=target,
                code=ind.code,
                name=ind.name,
                name_en=ind.name_en,
                kind=ind.kind,
                source=ind.source,
                unit=spec.unit,
                min_value=ind.min_value,
                max_value=ind.max_value,
                frequency=ind.frequency,
                evidence_required=ind.evidence_required,
                agency=agencies[ind.agency or spec.agency],
                is_primary=ind.is_primary,
                order=i_order * 10,
            )
            count("indicators", True)

    created["periods"] = _periods(resolution, day)

    have_tasks = set(
        Task.objects.filter(target__in=targets.values()).values_list("target_id", "title")
    )
    new_tasks = [
        Task(
            target=targets[t.target],
            title=t.title,
            agency=agencies[t.agency],
            due=t.due,
        )
        for t in TASKS
        if (targets[t.target].pk, t.title) not in have_tasks
    ]
    Task.objects.bulk_create(new_tasks)
    created["tasks"] = len(new_tasks)

    have_dti = set(DtiComponent.objects.filter(year=DTI_YEAR).values_list("code", flat=True))
    new_dti = [
        DtiComponent(
            year=DTI_YEAR,
            group=c.group,
            code=c.code,
            name=c.name,
            name_en=c.name_en,
            max_points=c.max_points,
            indicator=indicators.get(c.indicator) if c.indicator else None,
        )
        for c in DTI
        if c.code not in have_dti
    ]
    DtiComponent.objects.bulk_create(new_dti)
    created["dti_components"] = len(new_dti)
    return LoadResult(resolution, created)


def programme_load(*, today: date | None = None) -> Programme:
    """Write Resolution 18-NQ/TU with Plan 239/KH-UBND, their pillars, targets, indicators,
    reporting periods, tasks and the 2025 DTI components; returns the Resolution. Idempotent:
    only what is missing (by code) is created. The agencies must exist (`agency_codes()`)."""
    return programme_load_counted(today=today).programme
