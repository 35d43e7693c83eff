"""The demo city's citizen feedback: categories, ward centres, handlers, about 300 reports.

What it loads (each part idempotent; `demo_load` runs after the dossiers, DemoStep order 70):

* the 11 kinds of problem of the issue (Vietnamese and English names, Open311 service codes such
  as ``street-light``, extra questions, notices) and an emergency kind "Cháy nổ, tai nạn, tội
  phạm" that takes no report and sends the resident to 114 / 113 / 115;
* approximate centres of 40 of Hanoi's central wards and communes from
  ``fixtures/ward_centres.json`` — demo points, NOT legal boundaries — written only where a unit
  has no centre yet (so the nearest-ward fallback and the offline map work without boundaries);
* one report handler (processing officer) per ward with demo reports (``phananh.<ward>``, e.g.
  ``phananh.cuanam``; at Phường Hoàn Kiếm the existing ``xuly.hoankiem``), one per department
  that handles or supports reports (``phananh.sxd``, ``phananh.snnmt``, ``phananh.syt``,
  ``phananh.snv``, ``phananh.sct``) and one at the city committee (``phananh.thanhpho``), all
  processing officers (leaders' breach and reopening notices go to the units' approvers, else
  to the city's ``lanhdao.thanhpho``); the communications officer
  ``truyenthong.thanhpho`` (moderation, city alerts) — all with the demo password
  (accounts.demo.DEMO_PASSWORD) and the published authenticator key of `demo_totp_key`;
* the Open311 client system account ``open311.demo`` with the known demo API key
  ``thd_o311demo_thudo-open311-demo-key-2026`` (OPEN311_DEMO_KEY; only its hash is stored);
* response templates (city-wide and per kind of problem) and two city alerts;
* about 300 reports over the last 60 days in every status: waiting (some past their accept-by
  time), being handled (some overdue), answered, closed after a rating or by the periodic job,
  withdrawn; accepted and answered on time and late; transfers, supporting units, a reopened
  report escalated to the department and handled there; flags, a hidden spam report and its
  banned author, a redacted text and photo, follows, personal data removed.

How the past is made: every report is created and handled through the domain's services, which
take ``now=``; each story (submit, accept, answer, rate, …) runs at moments chosen in the past,
moving forward in working hours from the submission and never past the present, so the clocks
(accept-by, resolve-by computed by the services from the working-day calendar), the on-time
flags, the timeline events, the flags and moderation rows are consistent with those moments.
Rows the services stamp with the real time are moved to the story's moment with a queryset
``update()`` right after each step: the notifications created by the step and the stored media
(``uploaded_at``); the two alerts are dated a day and a week back the same way. The audit
trail is append-only and keeps the real load time. The breach job (`reports_breaches_escalate`)
runs inside each late story just after the deadline passed, as the 15-minute job would have,
and once at the end for what is overdue now; the auto-close job runs inside the stories that
end with it.

Idempotent: every demo report gets a fixed token (uuid5 of ``thudo-demo-feedback-<n>``) in the
transaction of its story; reports already there are skipped. Loads in about 10–20 s on SQLite.
"""

from __future__ import annotations

import io
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.accounts.models import Agency, ApiToken, Membership, User
from thudo.accounts.roles import Role
from thudo.core.calendar import get_calendar
from thudo.core.models import AdminUnit
from thudo.notifications.models import CityAlert, Notification

from .models import (
    Category,
    Flag,
    Report,
    ReportMedia,
    ResponseTemplate,
    Urgency,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ward_centres.json"
REPORTS = 300
DAYS = 60
TOKEN_NAMESPACE = uuid.UUID("5b0c3a52-2f7e-4a43-9d0e-7a1f0c1e6a11")
OPEN311_USERNAME = "open311.demo"
OPEN311_PREFIX = "o311demo"  # 8 characters, as api_token_authenticate expects
OPEN311_SECRET = "thudo-open311-demo-key-2026"  # noqa: S105 — published demo credential
OPEN311_DEMO_KEY = f"thd_{OPEN311_PREFIX}_{OPEN311_SECRET}"
COMMUNICATIONS_OFFICER = "truyenthong.thanhpho"
CITY_HANDLER = "phananh.thanhpho"
HOAN_KIEM = "00070"
CITIZENS = 1000  # accounts.demo makes 1,000: 600 reporters, 200 followers, 200 flaggers

Spec = dict[str, Any]


# --- Kinds of problem --------------------------------------------------------------------------


def _values(*items: tuple[str, str, str]) -> list[Spec]:
    return [{"key": k, "name": n, "name_en": e} for k, n, e in items]


CATEGORIES: list[Spec] = [
    {
        "code": "emergency",
        "name": "Cháy nổ, tai nạn, tội phạm",
        "name_en": "Fire, accidents, crime",
        "group": "Khẩn cấp",
        "description": "Cháy, nổ, tai nạn, người bị nạn, hành vi phạm tội đang xảy ra.",
        "description_en": "Fire, explosions, accidents, people in danger, crimes in progress.",
        "default_urgency": Urgency.URGENT,
        "redirect_phone": "114",
        "notice": (
            "Không phản ánh các trường hợp khẩn cấp tại đây. Gọi ngay: 114 — cứu hỏa, cứu nạn, "
            "cứu hộ; 113 — công an (tội phạm, an ninh trật tự); 115 — cấp cứu y tế."
        ),
        "notice_en": (
            "Do not report emergencies here. Call at once: 114 — fire and rescue; 113 — police "
            "(crime, public order); 115 — medical emergency."
        ),
        "order": 1,
    },
    {
        "code": "road-pavement",
        "name": "Hư hỏng đường, vỉa hè",
        "name_en": "Damaged road or pavement",
        "group": "Hạ tầng giao thông",
        "keywords": "ổ gà, ổ voi, sụt lún, nắp hố ga, vỉa hè, pothole",
        "department": "SXD",
        "normal_days": 5,
        "questions": [
            {
                "code": "damage",
                "label": "Loại hư hỏng",
                "label_en": "Kind of damage",
                "datatype": "singlevaluelist",
                "required": False,
                "order": 1,
                "values": _values(
                    ("pothole", "Ổ gà, ổ voi", "Pothole"),
                    ("subsidence", "Sụt lún mặt đường", "Subsidence"),
                    ("pavement", "Vỉa hè vỡ, bong gạch", "Broken pavement"),
                    ("manhole", "Mất, vỡ nắp hố ga", "Missing or broken manhole cover"),
                ),
            }
        ],
        "notice": "Hố sụt hoặc mất nắp hố ga đang gây nguy hiểm: chọn mức Khẩn cấp.",
        "notice_en": "A sinkhole or a missing manhole cover that is dangerous now: mark it urgent.",
        "order": 10,
    },
    {
        "code": "street-light",
        "name": "Đèn chiếu sáng công cộng",
        "name_en": "Street lighting",
        "group": "Hạ tầng đô thị",
        "keywords": "đèn đường, cột đèn, chiếu sáng, street light",
        "department": "SXD",
        "normal_days": 5,
        "questions": [
            {
                "code": "pole_number",
                "label": "Số hiệu cột đèn (ghi trên thân cột)",
                "label_en": "Pole number (written on the pole)",
                "datatype": "string",
                "required": False,
                "order": 1,
            },
            {
                "code": "light_state",
                "label": "Tình trạng đèn",
                "label_en": "State of the light",
                "datatype": "singlevaluelist",
                "required": True,
                "order": 2,
                "values": _values(
                    ("off", "Không sáng", "Off at night"),
                    ("flickering", "Nhấp nháy, lúc sáng lúc tắt", "Flickering"),
                    ("on_daytime", "Sáng cả ban ngày", "On in daytime"),
                ),
            },
        ],
        "order": 20,
    },
    {
        "code": "waste",
        "name": "Rác thải, vệ sinh môi trường",
        "name_en": "Waste and street cleanliness",
        "group": "Môi trường",
        "keywords": "rác, phế thải, xà bần, vệ sinh, waste",
        "department": "SNNMT",
        "normal_days": 3,
        "questions": [
            {
                "code": "waste_type",
                "label": "Loại rác",
                "label_en": "Kind of waste",
                "datatype": "singlevaluelist",
                "required": False,
                "order": 1,
                "values": _values(
                    ("household", "Rác sinh hoạt", "Household waste"),
                    ("construction", "Phế thải xây dựng", "Construction debris"),
                    ("bulky", "Đồ cồng kềnh", "Bulky items"),
                    ("hazardous", "Chất thải nguy hại", "Hazardous waste"),
                ),
            }
        ],
        "order": 30,
    },
    {
        "code": "flooding",
        "name": "Ngập úng, thoát nước",
        "name_en": "Flooding and drainage",
        "group": "Hạ tầng đô thị",
        "keywords": "ngập, úng, cống, thoát nước, flood",
        "department": "SXD",
        "default_urgency": Urgency.URGENT,
        "normal_days": 3,
        "questions": [
            {
                "code": "depth",
                "label": "Độ sâu nước ngập",
                "label_en": "Depth of the water",
                "datatype": "singlevaluelist",
                "required": True,
                "order": 1,
                "values": _values(
                    ("lt10", "Dưới 10 cm", "Under 10 cm"),
                    ("10to30", "Từ 10 đến 30 cm", "10 to 30 cm"),
                    ("gt30", "Trên 30 cm", "Over 30 cm"),
                ),
            }
        ],
        "notice": (
            "Không đi qua chỗ nước ngập sâu, tránh xa cột điện và dây điện khi trời mưa. "
            "Người gặp nguy hiểm: gọi 114."
        ),
        "notice_en": (
            "Do not cross deep water and keep away from electric poles and wires in the rain. "
            "Someone in danger: call 114."
        ),
        "order": 40,
    },
    {
        "code": "trees-parks",
        "name": "Cây xanh, công viên",
        "name_en": "Trees and parks",
        "group": "Hạ tầng đô thị",
        "keywords": "cây đổ, cành gãy, cắt tỉa, công viên, vườn hoa",
        "department": "SXD",
        "normal_days": 5,
        "questions": [
            {
                "code": "danger",
                "label": "Tình trạng cây",
                "label_en": "State of the tree",
                "datatype": "singlevaluelist",
                "required": False,
                "order": 1,
                "values": _values(
                    ("fallen", "Cây đổ", "Fallen tree"),
                    ("leaning", "Cây nghiêng, có nguy cơ đổ", "Leaning, may fall"),
                    ("branches", "Cành khô, cành gãy", "Dead or broken branches"),
                    ("pruning", "Cần cắt tỉa", "Needs pruning"),
                ),
            }
        ],
        "notice": "Cây đổ chắn đường hoặc đè lên người, xe: chọn mức Khẩn cấp; có người bị nạn: "
        "gọi 114.",
        "notice_en": "A tree blocking the road or fallen on people or cars: mark it urgent; "
        "someone hurt: call 114.",
        "order": 50,
    },
    {
        "code": "traffic-parking",
        "name": "Trật tự giao thông, lấn chiếm vỉa hè",
        "name_en": "Traffic order, parking and pavement encroachment",
        "group": "Trật tự đô thị",
        "keywords": "đỗ xe, lấn chiếm, vỉa hè, biển báo, đèn tín hiệu",
        "department": "SXD",
        "normal_days": 3,
        "order": 60,
    },
    {
        "code": "construction",
        "name": "Trật tự xây dựng",
        "name_en": "Building work without a permit or unsafe",
        "group": "Trật tự đô thị",
        "keywords": "xây dựng trái phép, công trình, giấy phép",
        "department": "SXD",
        "normal_days": 10,
        "complex_days": 20,
        "questions": [
            {
                "code": "works_state",
                "label": "Công trình",
                "label_en": "The works",
                "datatype": "singlevaluelist",
                "required": False,
                "order": 1,
                "values": _values(
                    ("ongoing", "Đang thi công", "Under way"),
                    ("night", "Thi công ban đêm, gây ồn", "Working at night"),
                    ("finished", "Đã xây xong", "Finished"),
                ),
            }
        ],
        "order": 70,
    },
    {
        "code": "noise-pollution",
        "name": "Tiếng ồn, ô nhiễm",
        "name_en": "Noise and pollution",
        "group": "Môi trường",
        "keywords": "tiếng ồn, karaoke, khói, bụi, mùi hôi",
        "department": "SNNMT",
        "normal_days": 5,
        "questions": [
            {
                "code": "kind",
                "label": "Loại ô nhiễm",
                "label_en": "Kind of pollution",
                "datatype": "singlevaluelist",
                "required": False,
                "order": 1,
                "values": _values(
                    ("noise", "Tiếng ồn", "Noise"),
                    ("smoke", "Khói, bụi", "Smoke or dust"),
                    ("smell", "Mùi hôi", "Smell"),
                    ("water", "Nước thải", "Waste water"),
                ),
            }
        ],
        "order": 80,
    },
    {
        "code": "food-safety",
        "name": "An toàn thực phẩm",
        "name_en": "Food safety",
        "group": "Y tế",
        "keywords": "thực phẩm bẩn, ngộ độc, hàng ăn, vệ sinh thực phẩm",
        "handler": Category.Handler.DEPARTMENT,
        "department": "SYT",
        "normal_days": 7,
        "questions": [
            {
                "code": "establishment",
                "label": "Tên cơ sở kinh doanh (nếu biết)",
                "label_en": "Name of the business (if known)",
                "datatype": "string",
                "required": False,
                "order": 1,
            }
        ],
        "notice": "Có người bị ngộ độc thực phẩm: gọi ngay 115.",
        "notice_en": "Someone has food poisoning: call 115 at once.",
        "order": 90,
    },
    {
        "code": "public-service-conduct",
        "name": "Thái độ, tác phong cán bộ, công chức",
        "name_en": "Conduct of public servants",
        "group": "Hành chính công",
        "keywords": "cán bộ, thái độ, phục vụ, nhũng nhiễu",
        "department": "SNV",
        "normal_days": 10,
        "notice": (
            "Khiếu nại, tố cáo theo Luật Khiếu nại, Luật Tố cáo không được tiếp nhận tại đây; "
            "hãy gửi đến cơ quan có thẩm quyền."
        ),
        "notice_en": (
            "Formal complaints and denunciations under the laws on complaints and denunciations "
            "are not taken here; send them to the competent authority."
        ),
        "order": 100,
    },
    {
        "code": "other",
        "name": "Vấn đề khác",
        "name_en": "Other",
        "group": "Khác",
        "normal_days": 5,
        "order": 200,
    },
]

# Share of the demo reports per kind of problem.
CATEGORY_WEIGHTS = {
    "road-pavement": 14,
    "street-light": 12,
    "waste": 16,
    "flooding": 7,
    "trees-parks": 8,
    "traffic-parking": 12,
    "construction": 10,
    "noise-pollution": 9,
    "food-safety": 5,
    "public-service-conduct": 3,
    "other": 4,
}

DESCRIPTIONS = {
    "road-pavement": [
        "Ổ gà lớn giữa làn đường, xe máy đi qua dễ ngã, nhất là buổi tối.",
        "Mặt đường bị sụt lún sau đợt mưa, nước đọng thành vũng sâu.",
        "Vỉa hè bong gạch, nhiều chỗ vỡ, người đi bộ phải xuống lòng đường.",
        "Nắp hố ga bị vỡ, chỉ có cành cây cắm làm dấu, rất nguy hiểm.",
    ],
    "street-light": [
        "Cả dãy đèn đường không sáng từ ba hôm nay, ngõ tối om.",
        "Đèn đường nhấp nháy liên tục suốt đêm.",
        "Đèn chiếu sáng vẫn sáng cả ban ngày, lãng phí điện.",
    ],
    "waste": [
        "Rác sinh hoạt tập kết sai giờ, bốc mùi hôi cả ngày.",
        "Có người đổ trộm phế thải xây dựng ra vỉa hè vào ban đêm.",
        "Điểm tập kết rác tràn ra lòng đường, chưa được thu gom.",
        "Đồ cồng kềnh (tủ, đệm cũ) bị vứt ở góc phố nhiều ngày.",
    ],
    "flooding": [
        "Mưa to, nước ngập qua bánh xe máy, cống không thoát được.",
        "Cống thoát nước bị tắc, nước ngập kéo dài sau mưa.",
        "Đoạn đường ngập sâu, nhiều xe chết máy.",
    ],
    "trees-parks": [
        "Cây xanh nghiêng hẳn ra lòng đường, có nguy cơ đổ khi mưa bão.",
        "Cành cây khô gãy treo lơ lửng trên vỉa hè.",
        "Cây trong vườn hoa cần cắt tỉa, che khuất đèn đường.",
    ],
    "traffic-parking": [
        "Ô tô đỗ kín hai bên đường giờ cao điểm, gây ùn tắc.",
        "Quán ăn lấn chiếm toàn bộ vỉa hè, người đi bộ phải đi dưới lòng đường.",
        "Đèn tín hiệu giao thông tại nút giao bị hỏng.",
    ],
    "construction": [
        "Công trình xây dựng không che chắn, vật liệu rơi xuống đường.",
        "Nhà dân xây thêm tầng, không thấy biển báo giấy phép xây dựng.",
        "Công trình thi công ban đêm sau 22 giờ, gây ồn.",
    ],
    "noise-pollution": [
        "Quán karaoke hát to đến nửa đêm, ảnh hưởng cả khu dân cư.",
        "Xưởng nhỏ trong ngõ đốt rác, khói bay vào nhà dân.",
        "Nước thải từ nhà hàng chảy ra cống, bốc mùi hôi.",
    ],
    "food-safety": [
        "Cơ sở bán đồ ăn sáng không bảo đảm vệ sinh, thực phẩm để dưới đất.",
        "Cửa hàng bán thực phẩm không rõ nguồn gốc, hết hạn sử dụng.",
    ],
    "public-service-conduct": [
        "Cán bộ tiếp dân có thái độ thiếu tôn trọng khi hướng dẫn thủ tục.",
        "Phải chờ rất lâu tại bộ phận một cửa, không có ai hướng dẫn.",
    ],
    "other": [
        "Biển tên phố bị gãy, cần thay mới.",
        "Ghế đá ở vườn hoa bị vỡ, có thể gây thương tích cho trẻ em.",
    ],
}

ANSWERS = {
    "road-pavement": "Đơn vị duy tu đã vá ổ gà, hoàn trả mặt đường; ảnh hiện trường kèm theo.",
    "street-light": "Công ty chiếu sáng đã thay bộ đèn và kiểm tra tủ điện; đèn đã sáng bình "
    "thường.",
    "waste": "Công ty môi trường đã thu gom, làm sạch điểm tập kết; phường tăng cường kiểm tra "
    "giờ đổ rác.",
    "flooding": "Đơn vị thoát nước đã nạo vét cống, khơi thông dòng chảy; nước đã rút.",
    "trees-parks": "Đơn vị cây xanh đã cắt tỉa, chằng chống cây; hiện trường đã được dọn sạch.",
    "traffic-parking": "Tổ trật tự đô thị đã nhắc nhở, lập biên bản các trường hợp vi phạm và "
    "sẽ kiểm tra thường xuyên.",
    "construction": "Đội quản lý trật tự xây dựng đã kiểm tra, lập biên bản và yêu cầu che "
    "chắn công trình.",
    "noise-pollution": "Công an phường và cán bộ môi trường đã kiểm tra, nhắc nhở cơ sở và cam "
    "kết không tái phạm.",
    "food-safety": "Đoàn kiểm tra an toàn thực phẩm đã kiểm tra cơ sở, xử phạt và tiêu hủy "
    "hàng không rõ nguồn gốc.",
    "public-service-conduct": "Lãnh đạo đơn vị đã làm việc với cán bộ, chấn chỉnh tác phong và "
    "xin lỗi người dân.",
    "other": "Đơn vị đã kiểm tra và khắc phục xong; cảm ơn ông/bà đã phản ánh.",
}
EXPLAINED = (
    "Qua kiểm tra, nội dung phản ánh đã được ghi nhận; việc sửa chữa thuộc kế hoạch duy tu "
    "của thành phố trong quý tới. Đơn vị sẽ thông báo khi triển khai."
)
NOT_IN_SCOPE = (
    "Nội dung phản ánh là tranh chấp dân sự giữa các hộ gia đình, không thuộc phạm vi tiếp nhận "
    "của hệ thống. Đề nghị ông/bà gửi đơn đến Tòa án nhân dân có thẩm quyền."
)
GOOD_COMMENTS = [
    "Xử lý nhanh, cảm ơn phường.",
    "Đã khắc phục, rất hài lòng.",
    "Cảm ơn cán bộ đã phản hồi rõ ràng.",
    "",
    "",
]
BAD_COMMENTS = [
    "Chưa khắc phục triệt để, vài hôm lại như cũ.",
    "Trả lời chung chung, không có ảnh hiện trường.",
    "Xử lý quá chậm so với hẹn.",
]
REOPEN_REASONS = [
    "Sau khi trả lời, hiện trường vẫn chưa được khắc phục, đề nghị cấp trên xem xét.",
    "Phường trả lời chưa đúng nội dung phản ánh.",
]
TEMPLATES: list[tuple[str | None, str, str]] = [
    (
        None,
        "Đã xử lý xong",
        "Cảm ơn ông/bà đã phản ánh. Đơn vị đã kiểm tra và xử lý xong tại hiện trường "
        "(ảnh kèm theo). Đề nghị ông/bà đánh giá kết quả xử lý.",
    ),
    (
        None,
        "Đã giải thích, đưa vào kế hoạch",
        "Cảm ơn ông/bà đã phản ánh. Nội dung đã được ghi nhận và đưa vào kế hoạch xử lý; đơn vị "
        "sẽ thông báo khi triển khai.",
    ),
    (None, "Không thuộc phạm vi tiếp nhận", NOT_IN_SCOPE),
    ("road-pavement", "Đã vá ổ gà, hoàn trả mặt đường", ANSWERS["road-pavement"]),
    ("street-light", "Đã thay bóng, sửa đèn chiếu sáng", ANSWERS["street-light"]),
    ("waste", "Đã thu gom rác, làm sạch", ANSWERS["waste"]),
    ("flooding", "Đã nạo vét, khơi thông cống", ANSWERS["flooding"]),
    ("trees-parks", "Đã cắt tỉa, chằng chống cây", ANSWERS["trees-parks"]),
    ("traffic-parking", "Đã xử lý lấn chiếm vỉa hè", ANSWERS["traffic-parking"]),
    ("construction", "Đã lập biên bản vi phạm trật tự xây dựng", ANSWERS["construction"]),
]
ALERTS: list[tuple[str, str, str, list[str]]] = [
    (
        CityAlert.Level.URGENT,
        "Cảnh báo mưa lớn, nguy cơ ngập úng tối nay",
        "Từ 18 giờ đến 23 giờ có mưa to đến rất to. Người dân hạn chế ra đường, không đi qua "
        "các điểm ngập sâu, tránh xa cột điện và cây xanh. Gọi 114 khi cần cứu nạn.",
        ["00319", "00313", "00316", "00337", "00367", "00364", "00646", "09556"],
    ),
    (
        CityAlert.Level.NEWS,
        "Ra quân tổng vệ sinh môi trường sáng Chủ nhật",
        "Sáng Chủ nhật, từ 7 giờ, các phường khu vực trung tâm ra quân tổng vệ sinh, thu gom "
        "đồ cồng kềnh miễn phí tại các điểm tập kết. Mời bà con tham gia.",
        ["00070", "00073", "00004", "00196", "00256"],
    ),
]


# --- Sample photos -------------------------------------------------------------------------------


@cache
def demo_photo(code: str, after: bool = False) -> bytes:
    """A small JPEG drawn with Pillow (640×480): a street scene with the problem, or fixed."""
    from PIL import Image, ImageDraw

    rng = random.Random(f"{code}-{after}")  # noqa: S311 — demo drawing
    image = Image.new("RGB", (640, 480), (150, 190, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 260, 640, 480), fill=(105, 105, 110))  # the road
    draw.rectangle((0, 240, 640, 262), fill=(185, 175, 160))  # the pavement
    for x in range(0, 640, 80):
        draw.rectangle((x + 10, 365, x + 50, 372), fill=(235, 235, 235))
    for i in range(4):  # houses
        x = 20 + i * 160
        colour = (200 + rng.randrange(40), 170 + rng.randrange(60), 120 + rng.randrange(60))
        draw.rectangle((x, 90 + rng.randrange(40), x + 130, 240), fill=colour)
        for wx in (x + 15, x + 75):
            draw.rectangle((wx, 150, wx + 35, 190), fill=(80, 110, 140))
    if code == "street-light":
        draw.rectangle((300, 60, 308, 262), fill=(60, 60, 60))
        lamp = (255, 230, 120) if after else (70, 70, 70)
        draw.ellipse((285, 45, 323, 75), fill=lamp)
    elif code == "waste" and not after:
        for _ in range(14):
            x, y = 380 + rng.randrange(140), 220 + rng.randrange(50)
            draw.ellipse((x, y, x + 40, y + 28), fill=(60 + rng.randrange(80), 50, 40))
    elif code == "flooding" and not after:
        draw.rectangle((0, 300, 640, 480), fill=(90, 120, 140))
    elif code == "trees-parks":
        angle = 0 if after else 60
        draw.rectangle((420 + angle, 110, 436 + angle, 262), fill=(100, 70, 40))
        draw.ellipse((360 + angle * 2, 40, 500 + angle * 2, 150), fill=(50, 130, 60))
    elif not after:  # a pothole or another damage on the road
        draw.ellipse((250, 330, 400, 380), fill=(45, 40, 38))
    if after:
        draw.rectangle((560, 20, 620, 80), fill=(40, 160, 80))
        draw.line((572, 50, 586, 66, 608, 34), fill=(255, 255, 255), width=6)
    draw.text((12, 452), "THUDO DEMO PHOTO", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _photo(code: str, after: bool = False) -> SimpleUploadedFile:
    name = "sau-xu-ly.jpg" if after else "hien-truong.jpg"
    return SimpleUploadedFile(name, demo_photo(code, after), "image/jpeg")


# --- Reference data ------------------------------------------------------------------------------


def ward_centres() -> list[Spec]:
    """The fixture's approximate ward centres (demo points, not legal boundaries)."""
    return list(json.loads(FIXTURE.read_text(encoding="utf-8"))["units"])


def centres_load() -> int:
    """Write the fixture's centres where a unit has none; returns how many were written."""
    written = 0
    for item in ward_centres():
        written += AdminUnit.objects.filter(code=item["code"], latitude__isnull=True).update(
            latitude=item["latitude"], longitude=item["longitude"]
        )
    return written


def categories_load() -> int:
    """Create the kinds of problem that are missing (configured ones are left as they are)."""
    have = set(Category.objects.values_list("code", flat=True))
    departments = {a.code: a for a in Agency.objects.filter(kind=Agency.Kind.DEPARTMENT)}
    made = 0
    for spec in CATEGORIES:
        if spec["code"] in have:
            continue
        values = {k: v for k, v in spec.items() if k != "department"}
        dept = spec.get("department")
        Category.objects.create(
            department=departments.get(f"HN-{dept}") if dept else None,
            **values,
        )
        made += 1
    return made


def templates_load() -> int:
    categories = {c.code: c for c in Category.objects.all()}
    made = 0
    for code, title, body in TEMPLATES:
        category = categories.get(code) if code else None
        if code and category is None:
            continue
        _obj, created = ResponseTemplate.objects.get_or_create(
            agency=None, category=category, title=title, defaults={"body": body}
        )
        made += created
    return made


def _slug(unit: AdminUnit) -> str:
    name = unit.codename
    for prefix in ("phuong_", "xa_", "dac_khu_"):
        name = name.removeprefix(prefix)
    return name.replace("_", "")


def _official(username: str, full_name: str, role: str, agency: Agency, password_hash: str) -> User:
    from thudo.accounts.demo import demo_totp_key

    user, _created = User.objects.get_or_create(
        username=username,
        defaults={
            "full_name": full_name,
            "kind": User.Kind.OFFICIAL,
            "password": password_hash,
            "email": f"{username}@demo.thudo.vn",
        },
    )
    Membership.objects.get_or_create(user=user, agency=agency, role=role)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        TOTPDevice.objects.create(
            user=user, name="demo", confirmed=True, key=demo_totp_key(username)
        )
    return user


HANDLER_NAMES = [
    "Nguyễn Thị Thu",
    "Trần Văn Hải",
    "Lê Minh Tuấn",
    "Phạm Thu Trang",
    "Hoàng Đức Long",
    "Vũ Ngọc Mai",
    "Đặng Thanh Bình",
    "Bùi Thị Lan",
]
DEPARTMENT_HANDLERS = ["SXD", "SNNMT", "SYT", "SNV", "SCT"]


def handlers_load(agencies: dict[str, Agency], units: list[AdminUnit]) -> dict[str, User]:
    """One report handler per demo ward, department and the city committee: agency code → user."""
    from thudo.accounts.demo import DEMO_PASSWORD

    password_hash = make_password(DEMO_PASSWORD)
    handlers: dict[str, User] = {}
    existing = User.objects.filter(username="xuly.hoankiem").first()
    for i, unit in enumerate(units):
        code = f"HN-{unit.code}"
        agency = agencies.get(code)
        if agency is None:
            continue
        if unit.code == HOAN_KIEM and existing is not None:
            handlers[code] = existing
            continue
        handlers[code] = _official(
            f"phananh.{_slug(unit)}",
            HANDLER_NAMES[i % len(HANDLER_NAMES)],
            Role.PROCESSING_OFFICER,
            agency,
            password_hash,
        )
    for i, dept in enumerate(DEPARTMENT_HANDLERS):
        agency = agencies.get(f"HN-{dept}")
        if agency is not None:
            handlers[agency.code] = _official(
                f"phananh.{dept.lower()}",
                HANDLER_NAMES[(i + 3) % len(HANDLER_NAMES)],
                Role.PROCESSING_OFFICER,
                agency,
                password_hash,
            )
    city = agencies.get("HN")
    if city is not None:
        handlers["HN"] = _official(
            CITY_HANDLER, "Đỗ Thị Hạnh", Role.PROCESSING_OFFICER, city, password_hash
        )
        _official(
            COMMUNICATIONS_OFFICER,
            "Lương Minh Châu",
            Role.COMMUNICATIONS_OFFICER,
            city,
            password_hash,
        )
    return handlers


def open311_client_load() -> User:
    """The Open311 client's system account and its published demo API key (hash stored)."""
    from thudo.accounts.services import _digest  # the accounts' own hashing of token secrets
    from thudo.core.audit import audit_record

    user, _created = User.objects.get_or_create(
        username=OPEN311_USERNAME,
        defaults={
            "full_name": "Ứng dụng Open311 (demo)",
            "kind": User.Kind.SYSTEM,
            "email": "open311.demo@demo.thudo.vn",
        },
    )
    if _created:
        user.set_unusable_password()  # a system account works only with its token
        user.save(update_fields=["password"])
    if not ApiToken.objects.filter(prefix=OPEN311_PREFIX).exists():
        token = ApiToken.objects.create(
            user=user,
            name="Open311 demo client",
            prefix=OPEN311_PREFIX,
            digest=_digest(OPEN311_SECRET),
        )
        audit_record(actor="demo", action="api_token.create", obj=token, to_state="active")
    return user


def alerts_load(sender: User | None) -> int:
    """Two city alerts, through notifications.services.alert_send (one day and a week ago)."""
    from thudo.notifications import services as notification_services

    if sender is None:
        return 0
    made = 0
    now = timezone.now()
    for i, (level, title, body, codes) in enumerate(ALERTS):
        if CityAlert.objects.filter(title=title).exists():
            continue
        alert = notification_services.alert_send(
            sender=sender, level=level, title=title, body=body, unit_codes=codes
        )
        sent = now - timedelta(days=1 + 6 * i, hours=3)
        CityAlert.objects.filter(pk=alert.pk).update(created_at=sent)
        Notification.objects.filter(title__endswith=title, created_at__gte=now).update(
            created_at=sent
        )
        made += 1
    return made


# --- The stories -------------------------------------------------------------------------------

# (story, count, youngest, oldest in days before now)
STORIES: list[tuple[str, int, float, float]] = [
    ("submitted", 18, 0.15, 1.0),
    ("submitted_late", 6, 3, 12),
    ("withdrawn", 6, 2, 50),
    ("accepted", 30, 0.5, 5),
    ("accepted_late", 10, 9, 30),
    ("answered", 25, 0.5, 6),
    ("unsatisfied", 6, 2, 6),
    ("unsatisfied_closed", 18, 15, 55),
    ("auto_closed", 8, 14, 58),
    ("closed", 128, 2, 60),
    ("closed_late", 15, 12, 60),
    ("reopened", 3, 8, 25),
    ("reopened_accepted", 2, 12, 40),
    ("reopened_closed", 3, 20, 60),
    ("transferred", 4, 0.3, 3),
    ("transferred_closed", 8, 10, 60),
    ("support_accepted", 4, 4, 15),
    ("support_closed", 6, 12, 60),
]
# Stories a resident does not rate: the ones an Open311 client's report may follow.
UNRATED = ("submitted", "accepted", "accepted_late", "answered", "auto_closed", "transferred")
OVERLAYS = [
    ("spam", "submitted"),
    ("flags3", "closed"),
    ("dismiss", "accepted"),
    ("flags2", "answered"),
    ("redact_text", "closed"),
    ("redact_photo", "closed"),
    ("forget", "closed"),
]


@dataclass
class Plan:
    n: int
    story: str
    category: str
    unit: str
    moment: datetime
    urgent: bool = False
    open311: bool = False
    photos: int = 0
    show_name: bool = False
    overlay: str = ""
    followers: int = 0
    late_accept: bool = False
    resolution: str = Report.Resolution.FIXED


def _moment(rng: random.Random, youngest: float, oldest: float, now: datetime) -> datetime:
    """A moment `youngest`–`oldest` days ago, at a local hour when people are about."""
    zone = timezone.get_current_timezone()
    for _ in range(20):
        day = now - timedelta(days=rng.uniform(youngest, oldest))
        local = day.astimezone(zone).replace(
            hour=rng.choice([6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 20, 21]),
            minute=rng.randrange(60),
            second=rng.randrange(60),
            microsecond=0,
        )
        if local <= now - timedelta(hours=max(youngest * 24, 1)):
            return local
    return now - timedelta(hours=max(youngest * 24, 1))


def plan_reports(rng: random.Random, units: list[str], now: datetime) -> list[Plan]:
    """The demo's reports in order of submission, each with its story and features."""
    codes = list(CATEGORY_WEIGHTS)
    weights = [CATEGORY_WEIGHTS[c] for c in codes]
    plans: list[Plan] = []
    for story, count, youngest, oldest in STORIES:
        for _ in range(count):
            category = rng.choices(codes, weights)[0]
            if story.startswith("support") and category == "food-safety":
                category = "road-pavement"  # a ward's report that a department supports
            unit = HOAN_KIEM if rng.random() < 0.2 else rng.choice(units)
            urgent = category == "flooding" or (
                category in ("road-pavement", "trees-parks") and rng.random() < 0.15
            )
            plans.append(
                Plan(
                    n=0,
                    story=story,
                    category=category,
                    unit=unit,
                    moment=_moment(rng, youngest, oldest, now),
                    urgent=urgent,
                    photos=rng.choice([0, 0, 1, 1, 1, 2]),
                    show_name=rng.random() < 0.35,
                    followers=rng.choice([0, 0, 0, 0, 1, 2, 3]),
                    late_accept=story.startswith("closed") and rng.random() < 0.12,
                    resolution=rng.choices(
                        [
                            Report.Resolution.FIXED,
                            Report.Resolution.ANSWERED,
                            Report.Resolution.NOT_IN_SCOPE,
                        ],
                        [65, 28, 7],
                    )[0],
                )
            )
    for overlay, story in OVERLAYS:
        candidates = [p for p in plans if p.story == story and not p.overlay]
        chosen = candidates[len(candidates) // 2]
        chosen.overlay = overlay
        if overlay == "spam":
            chosen.category, chosen.urgent = "other", False
        if overlay == "redact_photo":
            chosen.photos = max(chosen.photos, 1)
    unrated = [p for p in plans if p.story in UNRATED and not p.overlay]
    for p in rng.sample(unrated, 15):
        p.open311 = True
    # Reopened reports at a ward go up to a department: give them such a kind of problem.
    for p in plans:
        if p.story.startswith("reopened"):
            p.category = rng.choice(["road-pavement", "waste", "construction"])
            p.resolution = Report.Resolution.ANSWERED
            p.urgent = False
    plans.sort(key=lambda p: p.moment)
    for n, p in enumerate(plans, 1):
        p.n = n
    return plans


class _Timeline:
    """Moments moving forward from the submission, in working or wall-clock hours, never past
    the present."""

    def __init__(self, start: datetime, limit: datetime) -> None:
        self.calendar = get_calendar()
        self.moment = start
        self.limit = limit

    def after(self, hours: float) -> datetime:
        self.moment = min(self.calendar.add_working_hours(self.moment, hours), self.limit)
        return self.moment

    def wall(self, hours: float) -> datetime:
        self.moment = min(self.moment + timedelta(hours=hours), self.limit)
        return self.moment

    def at_least(self, moment: datetime) -> datetime:
        self.moment = min(max(self.moment, moment), self.limit)
        return self.moment

    def room(self, due: datetime) -> float:
        """Working hours left before `due`."""
        return self.calendar.working_time_between(self.moment, due).total_seconds() / 3600


@dataclass
class Cast:
    reporters: list[User]
    followers: list[User]
    flaggers: list[User]
    handlers: dict[str, User]
    agencies: dict[str, Agency]
    categories: dict[str, Category]
    moderator: User | None
    client: User | None
    streets: dict[str, list[str]]
    centres: dict[str, tuple[float, float]]
    stamps: list[Callable[[datetime], None]] = field(default_factory=list)


def demo_answers(category: Category, rng: random.Random) -> dict[str, Any]:
    """Plausible answers to a kind of problem's questions (the required ones always)."""
    answers: dict[str, Any] = {}
    for q in category.questions or []:
        if not q.get("required") and rng.random() < 0.4:
            continue
        if q.get("datatype") == "singlevaluelist":
            answers[q["code"]] = rng.choice(q["values"])["key"]
        elif q["code"] == "pole_number":
            answers[q["code"]] = (
                f"{rng.choice('ABCDEFGH')}{rng.randrange(1, 40)}/{rng.randrange(1, 90)}"
            )
        elif q["code"] == "establishment":
            answers[q["code"]] = rng.choice(["Quán phở gà", "Cửa hàng tạp hóa", "Bếp ăn tập thể"])
    return answers


class _Story:
    """One report's life, step by step, each at its moment."""

    def __init__(self, plan: Plan, cast: Cast, rng: random.Random, limit: datetime) -> None:
        self.plan, self.cast, self.rng = plan, cast, rng
        self.t = _Timeline(plan.moment, limit)
        self.category = cast.categories[plan.category]
        self.reporter = cast.reporters[(plan.n * 7) % len(cast.reporters)]
        self.report: Report

    # each service call runs at the story's moment; rows stamped with the real time follow it
    def _at(self, moment: datetime, call: Callable[..., Any], **kwargs: Any) -> Any:
        last = Notification.objects.aggregate(m=Max("pk"))["m"] or 0
        result = call(now=moment, **kwargs)
        Notification.objects.filter(pk__gt=last).update(created_at=moment)
        return result

    def handler(self, agency: Agency | None = None) -> User:
        code = (agency or self.report.agency).code
        return self.cast.handlers.get(code) or self.cast.handlers["HN"]

    def submit(self) -> None:
        from . import services

        p, rng = self.plan, self.rng
        lat, lng = self.cast.centres[p.unit]
        lat += rng.gauss(0, 0.0025)
        lng += rng.gauss(0, 0.0025)
        streets = self.cast.streets.get(p.unit) or ["Hà Nội"]
        address = f"Số {rng.randrange(1, 200)} phố {rng.choice(streets)}"
        if rng.random() < 0.3:
            address = f"Ngõ {rng.randrange(2, 120)} {rng.choice(streets)}"
        description = rng.choice(DESCRIPTIONS[p.category])
        if p.overlay == "spam":
            description = "Dịch vụ thông tắc cống, hút bể phốt giá rẻ 24/7, gọi ngay 0987 654 321!"
        if p.overlay == "redact_text":
            description += " Chủ nhà là ông Nguyễn Văn K., số điện thoại 0912 345 678."
        media = [_photo(p.category) for _ in range(p.photos)]
        common: dict[str, Any] = {
            "category": self.category,
            "description": description,
            "latitude": round(lat, 6),
            "longitude": round(lng, 6),
            "address": address,
            "unit_code": p.unit,
            "urgency": Urgency.URGENT if p.urgent else "",
            "attributes": demo_answers(self.category, rng),
            "media": media,
            "require_media": False,
        }
        if p.open311:
            self.report = self._at(
                p.moment,
                services.report_submit,
                reporter=None,
                source=Report.Source.OPEN311,
                client=self.cast.client,
                contact={
                    "name": self.reporter.full_name,
                    "email": f"nguoidan{p.n}@example.org",
                    "phone": self.reporter.phone,
                    "device_id": f"demo-device-{p.n}",
                },
                **common,
            )
        else:
            self.report = self._at(
                p.moment,
                services.report_submit,
                reporter=self.reporter,
                show_name=p.show_name,
                **common,
            )
        self._media_stamp(p.moment)

    def _media_stamp(self, moment: datetime) -> None:
        ReportMedia.objects.filter(report=self.report, uploaded_at__gt=moment).update(
            uploaded_at=moment
        )

    def escalate_at(self, due: datetime) -> None:
        from . import services

        moment = due + timedelta(minutes=15)
        if moment < self.t.limit:
            self._at(moment, services.reports_breaches_escalate)

    def accept(self, *, late: bool = False) -> None:
        from . import services

        due = self.report.accept_due
        if late:
            self.escalate_at(due)
            moment = self.t.at_least(
                self.t.calendar.add_working_hours(due, self.rng.uniform(1, 12))
            )
        else:
            room = max(self.t.room(due), 0.2)
            moment = self.t.after(self.rng.uniform(0.1, 0.8) * room)
        self.report = self._at(
            moment, services.report_accept, user=self.handler(), report=self.report
        )

    def answer(self, *, late: bool = False, resolution: str | None = None) -> None:
        from . import services

        resolution = resolution or self.plan.resolution
        due = self.report.resolve_due
        if late:
            self.escalate_at(due)
            moment = self.t.at_least(
                self.t.calendar.add_working_hours(due, self.rng.uniform(2, 30))
            )
        else:
            room = self.t.room(due)
            moment = self.t.after(self.rng.uniform(0.2, 0.9) * room if room > 0.5 else 0.1)
        texts: dict[str, str] = {
            Report.Resolution.FIXED: ANSWERS[self.plan.category],
            Report.Resolution.ANSWERED: EXPLAINED,
            Report.Resolution.NOT_IN_SCOPE: NOT_IN_SCOPE,
        }
        text = texts[resolution]
        fixed = resolution == Report.Resolution.FIXED
        evidence = [_photo(self.plan.category, after=True)] if fixed else []
        self.report = self._at(
            moment,
            services.report_answer,
            user=self.handler(),
            report=self.report,
            text=text,
            resolution=resolution,
            evidence=evidence,
        )
        self._media_stamp(moment)

    def rate(self, *, happy: bool) -> None:
        from . import services

        moment = self.t.wall(self.rng.uniform(1, 60))
        if happy:
            rating = self.rng.choice([3, 4, 4, 5, 5, 5])
            comment = self.rng.choice(GOOD_COMMENTS)
        else:
            rating = self.rng.choice([1, 2, 2])
            comment = self.rng.choice(BAD_COMMENTS)
        self.report = self._at(
            moment,
            services.report_rate,
            user=self.reporter,
            report=self.report,
            rating=rating,
            comment=comment,
        )

    def auto_close(self) -> None:
        from . import services

        start = self.report.rated_at or self.report.answered_at or self.t.moment
        moment = self.t.calendar.add_working_days(start, 7) + timedelta(minutes=10)
        if moment < self.t.limit:
            self._at(moment, services.reports_auto_close)
            self.t.at_least(moment)

    def reopen(self) -> None:
        from . import services

        moment = self.t.wall(self.rng.uniform(1, 20))
        self.report = self._at(
            moment,
            services.report_reopen,
            user=self.reporter,
            report=self.report,
            reason=self.rng.choice(REOPEN_REASONS),
        )

    def transfer(self) -> None:
        from . import services

        current = self.report.agency
        department = self.category.department
        if current.kind == Agency.Kind.DEPARTMENT:
            target = self.cast.agencies["HN-SCT"]
            reason = "Cơ sở kinh doanh trong chợ, thuộc quản lý của Sở Công Thương."
        elif department is not None and self.rng.random() < 0.4:
            target = department
            reason = f"Nội dung thuộc thẩm quyền của {target.name}."
        else:
            others = [c for c in self.cast.centres if f"HN-{c}" != current.code]
            target = self.cast.agencies[f"HN-{self.rng.choice(others)}"]
            reason = f"Vị trí phản ánh thuộc địa bàn {target.admin_unit.name}."
        moment = self.t.after(self.rng.uniform(0.5, 4))
        self.report = self._at(
            moment,
            services.report_transfer,
            user=self.handler(current),
            report=self.report,
            agency=target,
            reason=reason,
        )

    def support(self, *, contribute: bool) -> None:
        from . import services

        helper = self.category.department or self.cast.agencies["HN-SNNMT"]
        moment = self.t.after(self.rng.uniform(0.5, 3))
        self.report = self._at(
            moment,
            services.report_support_add,
            user=self.handler(),
            report=self.report,
            agencies=[helper],
            note="Đề nghị phối hợp kiểm tra hiện trường và cho ý kiến chuyên môn.",
        )
        moment = self.t.after(self.rng.uniform(0.5, 6))
        self._at(
            moment,
            services.report_accept,
            user=self.handler(helper),
            report=self.report,
            agency=helper,
        )
        if contribute:
            moment = self.t.after(self.rng.uniform(4, 16))
            self._at(
                moment,
                services.report_answer,
                user=self.handler(helper),
                report=self.report,
                agency=helper,
                text="Đã cử cán bộ kiểm tra; đề nghị phường lập biên bản và yêu cầu khắc phục.",
                resolution=Report.Resolution.ANSWERED,
            )

    def withdraw(self) -> None:
        from . import services

        moment = self.t.wall(self.rng.uniform(0.3, 6))
        self.report = self._at(
            moment, services.report_withdraw, user=self.reporter, report=self.report
        )

    def note(self) -> None:
        from . import services

        moment = self.t.after(self.rng.uniform(0.2, 2))
        self._at(
            moment,
            services.report_note,
            user=self.handler(),
            report=self.report,
            text="Đã giao tổ dân phố kiểm tra, chờ báo cáo hiện trường.",
        )

    # --- residents around the report and the moderators ---

    def followers(self, count: int) -> None:
        from . import services

        if self.report.visibility != "public":
            return
        for k in range(count):
            user = self.cast.followers[(self.plan.n * 3 + k * 11) % len(self.cast.followers)]
            moment = min(self.plan.moment + timedelta(hours=2 + 5 * k), self.t.limit)
            self._at(moment, services.report_follow, user=user, report=self.report)

    def flag(self, count: int, reason: str) -> None:
        from . import services

        for k in range(count):
            user = self.cast.flaggers[(self.plan.n + k * 13) % len(self.cast.flaggers)]
            moment = self.t.wall(self.rng.uniform(0.5, 6))
            self._at(
                moment,
                services.report_flag,
                user=user,
                report=self.report,
                reason=reason,
                comment="",
            )

    def overlay(self) -> None:
        from . import services

        kind, mod = self.plan.overlay, self.cast.moderator
        if not kind:
            return
        if kind == "spam":
            self.flag(3, Flag.Reason.SPAM)
        elif kind == "flags3":
            self.flag(3, Flag.Reason.PERSONAL_DATA)
        elif kind == "flags2":
            self.flag(2, Flag.Reason.NOT_GENUINE)
        elif kind == "dismiss":
            self.flag(1, Flag.Reason.OTHER)
        elif kind == "forget":
            moment = self.t.wall(self.rng.uniform(2, 48))
            self._at(
                moment,
                services.report_personal_data_remove,
                user=self.reporter,
                report=self.report,
            )
        if mod is None:
            return
        moment = self.t.wall(self.rng.uniform(1, 8))
        if kind == "spam":
            self._at(
                moment,
                services.moderation_hide,
                moderator=mod,
                report=self.report,
                reason="Quảng cáo dịch vụ, không phải phản ánh.",
            )
            self._at(
                moment,
                services.moderation_ban,
                moderator=mod,
                user=self.reporter,
                reason="Đăng quảng cáo nhiều lần.",
                until=moment + timedelta(days=90),
            )
        elif kind == "dismiss":
            self._at(
                moment,
                services.moderation_dismiss_flags,
                moderator=mod,
                report=self.report,
                reason="Nội dung phản ánh đúng sự thật, không vi phạm.",
            )
        elif kind == "redact_text":
            text = self.report.description.split(" Chủ nhà là")[0] + " [Đã ẩn thông tin cá nhân]"
            self._at(
                moment,
                services.moderation_redact_text,
                moderator=mod,
                report=self.report,
                text=text,
                reason="Ẩn họ tên và số điện thoại của người khác.",
            )
        elif kind == "redact_photo":
            photo = ReportMedia.objects.filter(
                report=self.report, purpose=ReportMedia.Purpose.REPORT
            ).first()
            if photo is not None:
                self._at(
                    moment,
                    services.moderation_redact_photo,
                    moderator=mod,
                    media=photo,
                    boxes=[(250, 300, 160, 90)],
                    reason="Che biển số xe trong ảnh.",
                )

    # --- the plot ---

    def play(self) -> Report:
        p, story = self.plan, self.plan.story
        self.submit()
        self.followers(p.followers)
        if story == "withdrawn":
            self.withdraw()
        elif story == "submitted_late":
            pass  # the final breach run escalates it
        elif story in ("transferred", "transferred_closed"):
            self.transfer()
            if story == "transferred_closed":
                self.accept()
                self.answer()
                self.rate(happy=True)
        elif story != "submitted":
            self.accept(late=p.late_accept)
            if self.rng.random() < 0.25:
                self.note()
            if story.startswith("support"):
                self.support(contribute=story == "support_closed")
            if story == "accepted_late":
                pass  # past its resolve-by time now
            elif story in ("accepted", "support_accepted"):
                pass
            else:
                self.answer(late=story == "closed_late")
                if story in ("closed", "closed_late", "support_closed"):
                    self.rate(happy=story != "closed_late" or self.rng.random() < 0.6)
                elif story in ("unsatisfied", "unsatisfied_closed"):
                    self.rate(happy=False)
                    if story == "unsatisfied_closed":
                        self.auto_close()
                elif story == "auto_closed":
                    self.auto_close()
                elif story.startswith("reopened"):
                    self.rate(happy=False)
                    self.reopen()
                    if story != "reopened":
                        self.accept()
                    if story == "reopened_closed":
                        self.answer(resolution=Report.Resolution.FIXED)
                        self.rate(happy=True)
        self.overlay()
        return self.report


# --- Loading -------------------------------------------------------------------------------------


def demo_token(n: int) -> uuid.UUID:
    return uuid.uuid5(TOKEN_NAMESPACE, f"thudo-demo-feedback-{n}")


def _reports(cast: Cast) -> tuple[int, int]:
    from . import services

    rng = random.Random(1207)  # noqa: S311 — reproducible demo data (Decision 1207/QĐ-UBND)
    now = timezone.now()
    plans = plan_reports(rng, sorted(cast.centres), now)
    have = set(
        Report.objects.filter(token__in=[demo_token(p.n) for p in plans]).values_list(
            "token", flat=True
        )
    )
    limit = now - timedelta(minutes=5)
    made = 0
    for plan in plans:
        story_rng = random.Random(plan.n)  # noqa: S311 — each story on its own seed
        if demo_token(plan.n) in have:
            continue
        with transaction.atomic():
            report = _Story(plan, cast, story_rng, limit).play()
            Report.objects.filter(pk=report.pk).update(token=demo_token(plan.n))
        made += 1
    if made:
        services.reports_breaches_escalate(now=now)
    return made, len(have)


def demo_load(stdout: Any = None) -> None:
    started = timezone.now()
    city_code = f"{settings.THUDO_CITY['PROVINCE_CODE']:02d}"
    with transaction.atomic():
        centres = centres_load()
        categories = categories_load()
        templates = templates_load()
        agencies = {a.code: a for a in Agency.objects.select_related("admin_unit")}
        fixture = ward_centres()
        units = list(
            AdminUnit.objects.filter(
                parent__code=city_code, code__in=[u["code"] for u in fixture]
            ).order_by("code")
        )
        handlers = handlers_load(agencies, units)
        client = open311_client_load()
        moderator = User.objects.filter(username=COMMUNICATIONS_OFFICER).first()
    citizens = list(
        User.objects.filter(kind=User.Kind.CITIZEN, is_active=True).order_by("pk")[:CITIZENS]
    )
    if "HN" not in handlers or "HN-SCT" not in agencies or len(citizens) < CITIZENS:
        if stdout:
            stdout.write(
                f"  feedback: {categories} kinds of problem, {centres} ward centres; "
                "reports skipped (no demo agencies or citizens)"
            )
        return
    cast = Cast(  # disjoint: a banned reporter never follows or flags later
        reporters=citizens[:600],
        followers=citizens[600:800],
        flaggers=citizens[800:],
        handlers=handlers,
        agencies=agencies,
        categories={c.code: c for c in Category.objects.select_related("department")},
        moderator=moderator,
        client=client,
        streets={u["code"]: u.get("streets", []) for u in fixture},
        centres={
            u.code: (float(u.latitude), float(u.longitude))
            for u in AdminUnit.objects.filter(pk__in=[u.pk for u in units]).exclude(latitude=None)
            if u.latitude is not None and u.longitude is not None
        },
    )
    made, had = _reports(cast)
    alerts = alerts_load(moderator)
    if stdout:
        seconds = (timezone.now() - started).total_seconds()
        stdout.write(
            f"  feedback: {categories} kinds of problem, {templates} templates, {centres} ward "
            f"centres, {len(handlers)} handlers; reports: {made} new ({had} were there); "
            f"alerts: {alerts}; {seconds:.1f} s"
        )
        stdout.write(
            f"  feedback: {COMMUNICATIONS_OFFICER} moderates reports and sends city alerts; "
            f"the Open311 demo api_key is {OPEN311_DEMO_KEY}"
        )
