# ruff: noqa: E501 — catalog data: official names and texts are long
"""The demo catalog: common Hanoi procedures with their national codes, legal deadlines, fees,
papers, forms, steps and result templates (after Decree 118/2025 and the two-level local
government of 2025: most are settled by the ward/commune People's Committee)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from django.db import transaction

from thudo.accounts.roles import Role

from .models import FormField, LifeEvent, Procedure, ProcessingStep, RequiredPaper, Sector
from .services import procedure_publish

COMMUNE = "commune_committee"
DEPARTMENT = "department"

SECTORS = [
    ("ho-tich", "Hộ tịch", "Civil status"),
    ("chung-thuc", "Chứng thực", "Certification"),
    ("cu-tru", "Đăng ký, quản lý cư trú", "Residence registration"),
    ("kinh-doanh", "Thành lập và hoạt động của hộ kinh doanh", "Household businesses"),
    ("xay-dung", "Hoạt động xây dựng", "Construction"),
    ("dat-dai", "Đất đai", "Land"),
    ("ly-lich-tu-phap", "Lý lịch tư pháp", "Judicial records"),
    ("an-toan-thuc-pham", "An toàn thực phẩm", "Food safety"),
]

LIFE_EVENTS = [
    ("sinh-con", "Sinh con", "Having a baby", "heart"),
    ("ket-hon", "Kết hôn", "Getting married", "heart"),
    ("nguoi-than-qua-doi", "Khi người thân qua đời", "When a loved one dies", "user"),
    ("chuyen-noi-o", "Chuyển nơi ở", "Moving house", "home"),
    ("khoi-su-kinh-doanh", "Khởi sự kinh doanh", "Starting a business", "briefcase"),
    ("xay-nha", "Xây dựng, sửa chữa nhà ở", "Building a house", "building"),
    ("nha-dat", "Nhà đất", "Land and housing", "map"),
    ("xin-viec", "Đi làm, xin việc", "Getting a job", "briefcase"),
]

R, P, A = Role.RECEIVING_OFFICER, Role.PROCESSING_OFFICER, Role.APPROVER
RECEPTION = ("Tiếp nhận, kiểm tra hồ sơ", "Reception and completeness check", R)
REVIEW = ("Thẩm định, xử lý hồ sơ", "Review and processing", P)
APPROVAL = ("Phê duyệt, ký kết quả", "Approval and signing of the result", A)


def steps(reception: int, review: int, approval: int) -> list[tuple[str, str, str, int]]:
    return [(*RECEPTION, reception), (*REVIEW, review), (*APPROVAL, approval)]


IMG = "pdf,jpg,png"
PAPER_PROXY = (
    "uy-quyen",
    "Văn bản ủy quyền (khi nộp thay)",
    "Power of attorney (when filing for someone else)",
    False,
    IMG,
    5,
)


def f(
    name: str, label: str, label_en: str, kind: str = "text", required: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "label_en": label_en,
        "type": kind,
        "required": required,
        **extra,
    }


def phone() -> dict[str, Any]:
    return f("phone", "Số điện thoại liên hệ", "Contact phone number", "phone")


def email(required: bool = False) -> dict[str, Any]:
    return f("email", "Thư điện tử", "E-mail address", "email", required)


def person(prefix: str, who: str, who_en: str, required: bool = True) -> list[dict[str, Any]]:
    return [
        f(
            f"{prefix}_name",
            f"Họ, chữ đệm và tên {who}",
            f"Full name of the {who_en}",
            required=required,
            max_length=100,
        ),
        f(
            f"{prefix}_personal_id",
            f"Số định danh cá nhân {who}",
            f"Personal ID number of the {who_en}",
            "personal_id",
            required,
        ),
    ]


SEX = [["male", "Nam", "Male"], ["female", "Nữ", "Female"]]

# Once-only (docs/once-only.md): the registry services a form field can be filled from.
PERSON = "VN/GOV/BCA/CSDLQGDC/person"
INSURANCE = "VN/GOV/BHXH/CSDLBH/insurance"
PARCELS = "VN/GOV/HN-SNNMT/CSDLDD/parcels"


def src(service: str, pointer: str) -> str:
    """A field's `source`: filled from `service`'s answer at the JSON pointer."""
    return f"{service}#{pointer}"


def applicant_from_registry() -> list[dict[str, Any]]:
    """The applicant's own identity, taken from the population registry."""
    return [
        f(
            "full_name",
            "Họ, chữ đệm và tên",
            "Full name",
            max_length=100,
            source=src(PERSON, "/full_name"),
        ),
        f("birth_date", "Ngày sinh", "Date of birth", "date", source=src(PERSON, "/birth_date")),
        f(
            "personal_id",
            "Số định danh cá nhân",
            "Personal ID number",
            "personal_id",
            source=src(PERSON, "/personal_id"),
        ),
    ]


PROCEDURES: list[dict[str, Any]] = [
    {
        "code": "1.001193",
        "name": "Đăng ký khai sinh",
        "name_en": "Birth registration",
        "sector": "ho-tich",
        "events": ["sinh-con"],
        "agency_kind": COMMUNE,
        "deadline_days": "1.0",
        "cutoff": time(15, 0),
        "fee": 0,
        "description": "Đăng ký khai sinh cho trẻ em tại Ủy ban nhân dân cấp xã nơi cư trú của cha hoặc mẹ. Giải quyết ngay trong ngày; hồ sơ nhận sau 15 giờ được trả kết quả trong ngày làm việc tiếp theo.",
        "description_en": "Registers a child's birth at the ward or commune committee where the father or mother lives. Settled the same day; dossiers received after 15:00 are settled the next working day.",
        "papers": [
            (
                "to-khai",
                "Tờ khai đăng ký khai sinh",
                "Birth registration declaration",
                True,
                IMG,
                5,
            ),
            (
                "giay-chung-sinh",
                "Giấy chứng sinh (hoặc văn bản của người làm chứng)",
                "Birth certificate from the hospital (or a witness statement)",
                True,
                IMG,
                5,
            ),
            (
                "giay-chung-nhan-ket-hon",
                "Giấy chứng nhận kết hôn của cha mẹ (nếu có)",
                "Parents' marriage certificate (if any)",
                False,
                IMG,
                5,
            ),
            PAPER_PROXY,
        ],
        "fields": [
            f("child_name", "Họ, chữ đệm và tên của trẻ", "Child's full name", max_length=100),
            f("birth_date", "Ngày, tháng, năm sinh", "Date of birth", "date"),
            f("sex", "Giới tính", "Sex", "choice", choices=SEX),
            f(
                "birth_place",
                "Nơi sinh",
                "Place of birth",
                max_length=200,
                help_text="Tên cơ sở y tế hoặc địa chỉ nơi trẻ được sinh ra",
                help_text_en="The hospital or the address where the child was born",
            ),
            f("ethnicity", "Dân tộc", "Ethnic group", max_length=50),
            f("nationality", "Quốc tịch", "Nationality", max_length=50),
            *person("mother", "của mẹ", "mother"),
            *person("father", "của cha", "father", required=False),
            f(
                "relationship",
                "Quan hệ của người đi đăng ký với trẻ",
                "Declarant's relationship to the child",
                "choice",
                choices=[
                    ["mother", "Mẹ", "Mother"],
                    ["father", "Cha", "Father"],
                    ["grandparent", "Ông, bà", "Grandparent"],
                    ["relative", "Người thân thích khác", "Other relative"],
                    ["other", "Người khác (được ủy quyền)", "Other (authorised)"],
                ],
            ),
            phone(),
            f(
                "residence_and_insurance",
                "Đồng thời đăng ký thường trú và cấp thẻ bảo hiểm y tế cho trẻ (liên thông)",
                "Also register the child's permanent residence and health insurance card (linked procedure)",
                "boolean",
                False,
            ),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Giấy khai sinh",
        "result_title_en": "Birth certificate",
        "result_body": "Đã đăng ký khai sinh cho {child_name}, giới tính {sex}, sinh ngày {birth_date} tại {birth_place}; dân tộc {ethnicity}; quốc tịch {nationality}. Họ và tên mẹ: {mother_name}. Họ và tên cha: {father_name}.",
        "result_fields": [
            "child_name",
            "birth_date",
            "sex",
            "birth_place",
            "ethnicity",
            "nationality",
            "mother_name",
            "father_name",
        ],
    },
    {
        "code": "1.000656",
        "name": "Đăng ký khai tử",
        "name_en": "Death registration",
        "sector": "ho-tich",
        "events": ["nguoi-than-qua-doi"],
        "agency_kind": COMMUNE,
        "deadline_days": "1.0",
        "fee": 0,
        "description": "Người thân đăng ký khai tử trong thời hạn 15 ngày kể từ ngày có người chết.",
        "description_en": "A relative registers the death within 15 days of it.",
        "papers": [
            ("to-khai", "Tờ khai đăng ký khai tử", "Death registration declaration", True, IMG, 5),
            (
                "giay-bao-tu",
                "Giấy báo tử hoặc giấy tờ thay thế giấy báo tử",
                "Death notice or a document replacing it",
                True,
                IMG,
                5,
            ),
            PAPER_PROXY,
        ],
        "fields": [
            *person("deceased", "của người chết", "deceased"),
            f("death_date", "Ngày chết", "Date of death", "date"),
            f("death_place", "Nơi chết", "Place of death", max_length=200),
            f("death_cause", "Nguyên nhân chết", "Cause of death", required=False, max_length=200),
            f(
                "declarant_relationship",
                "Quan hệ với người chết",
                "Relationship to the deceased",
                "choice",
                choices=[
                    ["spouse", "Vợ/chồng", "Spouse"],
                    ["child", "Con", "Child"],
                    ["parent", "Cha/mẹ", "Parent"],
                    ["relative", "Người thân thích khác", "Other relative"],
                    ["other", "Khác", "Other"],
                ],
            ),
            phone(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Trích lục khai tử",
        "result_title_en": "Death registration extract",
        "result_body": "Đã đăng ký khai tử cho ông/bà {deceased_name}, số định danh cá nhân {deceased_personal_id}, chết ngày {death_date} tại {death_place}.",
        "result_fields": ["deceased_name", "deceased_personal_id", "death_date", "death_place"],
    },
    {
        "code": "1.000894",
        "name": "Đăng ký kết hôn",
        "name_en": "Marriage registration",
        "sector": "ho-tich",
        "events": ["ket-hon"],
        "agency_kind": COMMUNE,
        "online_level": "partial",
        "deadline_days": "1.0",
        "fee": 0,
        "description": "Hai bên nam, nữ cùng có mặt khi nhận Giấy chứng nhận kết hôn. Trường hợp cần xác minh, thời hạn được kéo dài không quá 05 ngày làm việc.",
        "description_en": "Both partners must be present to receive the marriage certificate. When facts must be verified the deadline may be extended by up to 5 working days.",
        "papers": [
            (
                "to-khai",
                "Tờ khai đăng ký kết hôn",
                "Marriage registration declaration",
                True,
                IMG,
                5,
            ),
            (
                "xac-nhan-hon-nhan",
                "Giấy xác nhận tình trạng hôn nhân (nếu đăng ký ở nơi khác nơi cư trú)",
                "Certificate of marital status (when registering away from home)",
                False,
                IMG,
                5,
            ),
            (
                "ban-an-ly-hon",
                "Bản án, quyết định ly hôn đã có hiệu lực (nếu đã ly hôn)",
                "Final divorce judgment or decision (if divorced)",
                False,
                IMG,
                10,
            ),
        ],
        "fields": [
            *person("husband", "bên nam", "husband"),
            f("husband_birth_date", "Ngày sinh bên nam", "Husband's date of birth", "date"),
            *person("wife", "bên nữ", "wife"),
            f("wife_birth_date", "Ngày sinh bên nữ", "Wife's date of birth", "date"),
            f(
                "first_marriage",
                "Cả hai bên kết hôn lần đầu",
                "This is the first marriage for both",
                "boolean",
                False,
            ),
            phone(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Giấy chứng nhận kết hôn",
        "result_title_en": "Marriage certificate",
        "result_body": "Chứng nhận anh {husband_name} (số định danh {husband_personal_id}) và chị {wife_name} (số định danh {wife_personal_id}) đã đăng ký kết hôn.",
        "result_fields": ["husband_name", "husband_personal_id", "wife_name", "wife_personal_id"],
    },
    {
        "code": "1.004873",
        "name": "Cấp Giấy xác nhận tình trạng hôn nhân",
        "name_en": "Certificate of marital status",
        "sector": "ho-tich",
        "events": ["ket-hon", "nha-dat"],
        "agency_kind": COMMUNE,
        "deadline_days": "3.0",
        "fee": 5000,
        "papers": [
            (
                "to-khai",
                "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân",
                "Application for a certificate of marital status",
                True,
                IMG,
                5,
            ),
            (
                "giay-xac-nhan-cu",
                "Giấy xác nhận tình trạng hôn nhân đã cấp trước đây (nếu có)",
                "A certificate issued earlier (if any)",
                False,
                IMG,
                5,
            ),
            (
                "ban-an-ly-hon",
                "Bản án, quyết định ly hôn đã có hiệu lực (nếu đã ly hôn)",
                "Final divorce judgment or decision (if divorced)",
                False,
                IMG,
                10,
            ),
        ],
        "fields": [
            *applicant_from_registry(),
            f("sex", "Giới tính", "Sex", "choice", choices=SEX, source=src(PERSON, "/sex")),
            f(
                "residence",
                "Nơi cư trú",
                "Place of residence",
                max_length=300,
                source=src(PERSON, "/permanent_address/address"),
            ),
            f(
                "marital_status",
                "Tình trạng hôn nhân hiện nay",
                "Current marital status",
                "choice",
                choices=[
                    ["single", "Chưa đăng ký kết hôn với ai", "Never married"],
                    ["divorced", "Đã ly hôn", "Divorced"],
                    ["widowed", "Vợ/chồng đã chết", "Widowed"],
                    ["married", "Đang có vợ/chồng", "Married"],
                ],
            ),
            f(
                "purpose",
                "Mục đích sử dụng",
                "Purpose",
                max_length=200,
                help_text="Ví dụ: để đăng ký kết hôn, để mua bán nhà đất",
                help_text_en="For example: to register a marriage, to sell a house",
            ),
            phone(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Giấy xác nhận tình trạng hôn nhân",
        "result_title_en": "Certificate of marital status",
        "result_body": "Xác nhận ông/bà {full_name}, sinh ngày {birth_date}, số định danh cá nhân {personal_id}; tình trạng hôn nhân: {marital_status}. Giấy này được cấp để: {purpose}.",
        "result_fields": ["full_name", "birth_date", "personal_id", "marital_status", "purpose"],
    },
    {
        "code": "2.000635",
        "name": "Cấp bản sao trích lục hộ tịch",
        "name_en": "Copy of a civil status extract",
        "sector": "ho-tich",
        "events": ["sinh-con", "ket-hon", "nguoi-than-qua-doi"],
        "agency_kind": COMMUNE,
        "deadline_days": "0.5",
        "cutoff": time(15, 0),
        "fee": 8000,
        "papers": [
            (
                "to-khai",
                "Tờ khai cấp bản sao trích lục hộ tịch",
                "Request for a copy of a civil status extract",
                True,
                IMG,
                5,
            ),
            PAPER_PROXY,
        ],
        "fields": [
            f(
                "full_name",
                "Họ, chữ đệm và tên người được cấp trích lục",
                "Full name on the record",
                max_length=100,
            ),
            f("personal_id", "Số định danh cá nhân", "Personal ID number", "personal_id"),
            f(
                "extract_type",
                "Loại trích lục",
                "Kind of extract",
                "choice",
                choices=[
                    ["birth", "Khai sinh", "Birth"],
                    ["marriage", "Kết hôn", "Marriage"],
                    ["death", "Khai tử", "Death"],
                ],
            ),
            f(
                "event_date",
                "Ngày đăng ký (nếu biết)",
                "Date of registration (if known)",
                "date",
                False,
            ),
            f("copies", "Số bản sao", "Number of copies", "integer", min_value=1, max_value=10),
            phone(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Bản sao trích lục hộ tịch",
        "result_title_en": "Copy of the civil status extract",
        "result_body": "Bản sao trích lục {extract_type} của {full_name}, số định danh cá nhân {personal_id}.",
        "result_fields": ["full_name", "personal_id", "extract_type", "copies"],
    },
    {
        "code": "2.000908",
        "name": "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp",
        "name_en": "Certified copy of a document issued by a Vietnamese authority",
        "sector": "chung-thuc",
        "events": ["xin-viec", "nha-dat"],
        "agency_kind": COMMUNE,
        "online_level": "partial",
        "deadline_days": "0.5",
        "cutoff": time(15, 0),
        "fee": 2000,
        "description": "Lệ phí 2.000 đồng/trang; từ trang thứ ba trở lên 1.000 đồng/trang. Bản sao điện tử được chứng thực từ bản chính có giá trị như bản sao giấy.",
        "description_en": "2,000 VND a page; from the third page 1,000 VND a page. An electronic certified copy has the value of a paper one.",
        "papers": [
            (
                "ban-chinh",
                "Bản chụp bản chính giấy tờ cần chứng thực",
                "Scan of the original document to certify",
                True,
                IMG,
                20,
            ),
        ],
        "fields": [
            f(
                "document_name",
                "Tên giấy tờ cần chứng thực",
                "Name of the document",
                max_length=200,
                help_text="Ví dụ: Bằng tốt nghiệp đại học",
                help_text_en="For example: university diploma",
            ),
            f("pages", "Số trang", "Number of pages", "integer", min_value=1, max_value=200),
            f("copies", "Số bản sao", "Number of copies", "integer", min_value=1, max_value=50),
            phone(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Bản sao được chứng thực từ bản chính",
        "result_title_en": "Certified copy",
        "result_body": "Chứng thực bản sao đúng với bản chính: {document_name} ({pages} trang, {copies} bản).",
        "result_fields": ["document_name", "pages", "copies"],
    },
    {
        "code": "2.000884",
        "name": "Chứng thực chữ ký trong giấy tờ, văn bản",
        "name_en": "Certification of a signature on a document",
        "sector": "chung-thuc",
        "events": ["nha-dat"],
        "agency_kind": COMMUNE,
        "online_level": "partial",
        "deadline_days": "0.5",
        "cutoff": time(15, 0),
        "fee": 10000,
        "description": "Người yêu cầu chứng thực phải ký trước mặt người thực hiện chứng thực.",
        "description_en": "The signer must sign in front of the certifying official.",
        "papers": [
            ("van-ban", "Giấy tờ, văn bản sẽ ký", "The document to be signed", True, "pdf", 20),
        ],
        "fields": [
            *person("signer", "người ký", "signer"),
            f("document_name", "Tên giấy tờ, văn bản", "Name of the document", max_length=200),
            phone(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Giấy tờ, văn bản đã chứng thực chữ ký",
        "result_title_en": "Document with a certified signature",
        "result_body": "Chứng thực chữ ký của {signer_name} trong văn bản: {document_name}.",
        "result_fields": ["signer_name", "signer_personal_id", "document_name"],
    },
    {
        "code": "1.004222",
        "name": "Đăng ký thường trú",
        "name_en": "Permanent residence registration",
        "sector": "cu-tru",
        "events": ["chuyen-noi-o", "sinh-con", "ket-hon"],
        "agency_kind": COMMUNE,
        "deadline_days": "7.0",
        "fee": 20000,
        "papers": [
            (
                "to-khai-ct01",
                "Tờ khai thay đổi thông tin cư trú (mẫu CT01)",
                "Residence information change form (CT01)",
                True,
                IMG,
                5,
            ),
            (
                "cho-o-hop-phap",
                "Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp",
                "Proof of lawful accommodation",
                True,
                IMG,
                10,
            ),
            (
                "dong-y-chu-ho",
                "Ý kiến đồng ý của chủ hộ, chủ sở hữu chỗ ở (nếu có)",
                "Consent of the household head or the owner (if needed)",
                False,
                IMG,
                5,
            ),
        ],
        "fields": [
            f(
                "full_name",
                "Họ, chữ đệm và tên",
                "Full name",
                max_length=100,
                source=src(PERSON, "/full_name"),
            ),
            f(
                "personal_id",
                "Số định danh cá nhân",
                "Personal ID number",
                "personal_id",
                source=src(PERSON, "/personal_id"),
            ),
            f("new_address", "Địa chỉ đăng ký thường trú", "Address to register", max_length=300),
            f(
                "accommodation",
                "Quan hệ với chỗ ở",
                "Relationship to the accommodation",
                "choice",
                choices=[
                    ["owner", "Chủ sở hữu", "Owner"],
                    ["relative", "Người thân của chủ hộ", "Relative of the household head"],
                    ["tenant", "Thuê, mượn, ở nhờ", "Tenant or guest"],
                ],
            ),
            f(
                "household_head_name",
                "Họ và tên chủ hộ",
                "Household head's name",
                required=False,
                max_length=100,
            ),
            phone(),
        ],
        "steps": steps(5, 75, 20),
        "result_title": "Thông báo kết quả đăng ký thường trú",
        "result_title_en": "Notice of permanent residence registration",
        "result_body": "Ông/bà {full_name}, số định danh cá nhân {personal_id}, đã được đăng ký thường trú tại {new_address}.",
        "result_fields": ["full_name", "personal_id", "new_address"],
    },
    {
        "code": "1.004194",
        "name": "Đăng ký tạm trú",
        "name_en": "Temporary residence registration",
        "sector": "cu-tru",
        "events": ["chuyen-noi-o", "xin-viec"],
        "agency_kind": COMMUNE,
        "deadline_days": "3.0",
        "fee": 15000,
        "papers": [
            (
                "to-khai-ct01",
                "Tờ khai thay đổi thông tin cư trú (mẫu CT01)",
                "Residence information change form (CT01)",
                True,
                IMG,
                5,
            ),
            (
                "cho-o-hop-phap",
                "Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp",
                "Proof of lawful accommodation",
                True,
                IMG,
                10,
            ),
        ],
        "fields": [
            f(
                "full_name",
                "Họ, chữ đệm và tên",
                "Full name",
                max_length=100,
                source=src(PERSON, "/full_name"),
            ),
            f(
                "personal_id",
                "Số định danh cá nhân",
                "Personal ID number",
                "personal_id",
                source=src(PERSON, "/personal_id"),
            ),
            f(
                "insurance_number",
                "Mã số bảo hiểm xã hội",
                "Social insurance number",
                required=False,
                max_length=10,
                source=src(INSURANCE, "/insurance_number"),
            ),
            f(
                "workplace",
                "Nơi làm việc",
                "Workplace",
                required=False,
                max_length=300,
                source=src(INSURANCE, "/employer/name"),
            ),
            f("address", "Địa chỉ tạm trú", "Temporary address", max_length=300),
            f(
                "stay_until",
                "Tạm trú đến ngày",
                "Staying until",
                "date",
                False,
                help_text="Tối đa 02 năm",
                help_text_en="At most 2 years",
            ),
            phone(),
        ],
        "steps": steps(10, 70, 20),
        "result_title": "Thông báo kết quả đăng ký tạm trú",
        "result_title_en": "Notice of temporary residence registration",
        "result_body": "Ông/bà {full_name}, số định danh cá nhân {personal_id}, đã được đăng ký tạm trú tại {address} đến ngày {stay_until}.",
        "result_fields": ["full_name", "personal_id", "address", "stay_until"],
    },
    {
        "code": "2.000720",
        "name": "Đăng ký thành lập hộ kinh doanh",
        "name_en": "Household business registration",
        "sector": "kinh-doanh",
        "events": ["khoi-su-kinh-doanh"],
        "agency_kind": COMMUNE,
        "deadline_days": "3.0",
        "fee": 100000,
        "papers": [
            (
                "giay-de-nghi",
                "Giấy đề nghị đăng ký hộ kinh doanh",
                "Household business registration request",
                True,
                IMG,
                5,
            ),
            (
                "bien-ban-hop",
                "Biên bản họp thành viên hộ gia đình (khi các thành viên cùng đăng ký)",
                "Minutes of the household members' meeting (when members register together)",
                False,
                IMG,
                5,
            ),
            (
                "hop-dong-thue",
                "Hợp đồng thuê địa điểm kinh doanh (nếu thuê)",
                "Lease of the business premises (if rented)",
                False,
                IMG,
                10,
            ),
        ],
        "fields": [
            f(
                "business_name",
                "Tên hộ kinh doanh",
                "Business name",
                max_length=200,
                help_text="Ví dụ: Hộ kinh doanh Phở Hà",
                help_text_en="For example: Hộ kinh doanh Phở Hà",
            ),
            f("business_address", "Địa chỉ trụ sở", "Business address", max_length=300),
            f(
                "business_lines",
                "Ngành, nghề kinh doanh",
                "Lines of business",
                "textarea",
                max_length=2000,
            ),
            f("capital", "Vốn kinh doanh (đồng)", "Capital (VND)", "integer", min_value=0),
            f(
                "employees",
                "Số lao động",
                "Number of workers",
                "integer",
                False,
                min_value=0,
                max_value=1000,
            ),
            *person("owner", "chủ hộ kinh doanh", "owner"),
            phone(),
            email(),
        ],
        "steps": steps(10, 60, 30),
        "result_title": "Giấy chứng nhận đăng ký hộ kinh doanh",
        "result_title_en": "Household business registration certificate",
        "result_body": "Hộ kinh doanh {business_name}, địa chỉ {business_address}, do ông/bà {owner_name} làm chủ; vốn kinh doanh {capital} đồng; ngành, nghề: {business_lines}.",
        "result_fields": [
            "business_name",
            "business_address",
            "owner_name",
            "capital",
            "business_lines",
        ],
    },
    {
        "code": "1.009994",
        "name": "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        "name_en": "Construction permit for a new detached house",
        "sector": "xay-dung",
        "events": ["xay-nha"],
        "agency_kind": COMMUNE,
        "deadline_days": "15.0",
        "fee": 75000,
        "papers": [
            (
                "don-de-nghi",
                "Đơn đề nghị cấp giấy phép xây dựng (mẫu số 01)",
                "Application for a construction permit (form 01)",
                True,
                IMG,
                5,
            ),
            (
                "giay-to-dat",
                "Giấy tờ hợp pháp về quyền sử dụng đất",
                "Proof of the land-use right",
                True,
                IMG,
                10,
            ),
            (
                "ban-ve-thiet-ke",
                "Bản vẽ thiết kế xây dựng (mặt bằng, mặt cắt, mặt đứng, móng)",
                "Design drawings (plans, sections, elevations, foundations)",
                True,
                "pdf",
                50,
            ),
            (
                "cam-ket-an-toan",
                "Cam kết bảo đảm an toàn công trình liền kề (nếu có)",
                "Undertaking on the safety of adjoining buildings (if any)",
                False,
                IMG,
                5,
            ),
        ],
        "fields": [
            f(
                "owner_name",
                "Họ, chữ đệm và tên chủ đầu tư",
                "Full name of the owner",
                max_length=100,
                source=src(PERSON, "/full_name"),
            ),
            f(
                "owner_personal_id",
                "Số định danh cá nhân chủ đầu tư",
                "Personal ID number of the owner",
                "personal_id",
                source=src(PERSON, "/personal_id"),
            ),
            f(
                "site_address",
                "Địa điểm xây dựng",
                "Building site",
                max_length=300,
                source=src(PARCELS, "/parcels/0/address"),
            ),
            f(
                "parcel_number",
                "Thửa đất số",
                "Parcel number",
                max_length=20,
                source=src(PARCELS, "/parcels/0/parcel_number"),
            ),
            f(
                "map_sheet",
                "Tờ bản đồ số",
                "Map sheet number",
                max_length=20,
                source=src(PARCELS, "/parcels/0/map_sheet"),
            ),
            f(
                "floor_area",
                "Tổng diện tích sàn (m²)",
                "Total floor area (m²)",
                "integer",
                min_value=1,
                max_value=10000,
            ),
            f("floors", "Số tầng", "Number of floors", "integer", min_value=1, max_value=15),
            phone(),
        ],
        "steps": [
            (*RECEPTION, 5),
            ("Thẩm định hồ sơ, kiểm tra thực địa", "Review and site inspection", P, 60),
            ("Dự thảo giấy phép xây dựng", "Drafting the permit", P, 15),
            (*APPROVAL, 20),
        ],
        "result_title": "Giấy phép xây dựng nhà ở riêng lẻ",
        "result_title_en": "Construction permit for a detached house",
        "result_body": "Cho phép ông/bà {owner_name} xây dựng nhà ở riêng lẻ tại {site_address} (thửa đất số {parcel_number}, tờ bản đồ số {map_sheet}); tổng diện tích sàn {floor_area} m², {floors} tầng.",
        "result_fields": [
            "owner_name",
            "site_address",
            "parcel_number",
            "map_sheet",
            "floor_area",
            "floors",
        ],
    },
    {
        "code": "1.012753",
        "name": "Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất lần đầu",
        "name_en": "First registration of land and attached assets and issue of the land-use certificate",
        "sector": "dat-dai",
        "events": ["nha-dat", "xay-nha"],
        "agency_kind": COMMUNE,
        "online_level": "partial",
        "deadline_days": "20.0",
        "fee": 100000,
        "papers": [
            (
                "don-dang-ky",
                "Đơn đăng ký đất đai, tài sản gắn liền với đất (mẫu 04/ĐK)",
                "Land registration form (04/ĐK)",
                True,
                IMG,
                5,
            ),
            (
                "giay-to-nguon-goc",
                "Giấy tờ về quyền sử dụng đất, nguồn gốc đất (nếu có)",
                "Documents on the land's origin (if any)",
                False,
                IMG,
                20,
            ),
            (
                "trich-do",
                "Mảnh trích đo bản đồ địa chính (nếu có)",
                "Cadastral survey extract (if any)",
                False,
                "pdf",
                20,
            ),
            (
                "nghia-vu-tai-chinh",
                "Chứng từ thực hiện nghĩa vụ tài chính (nếu có)",
                "Receipts of land fees paid (if any)",
                False,
                IMG,
                10,
            ),
        ],
        "fields": [
            *person("owner", "người sử dụng đất", "land user"),
            f("parcel_address", "Địa chỉ thửa đất", "Parcel address", max_length=300),
            f("parcel_number", "Thửa đất số", "Parcel number", max_length=20),
            f("map_sheet", "Tờ bản đồ số", "Map sheet number", max_length=20),
            f("area", "Diện tích (m²)", "Area (m²)", "integer", min_value=1, max_value=1000000),
            f(
                "land_use",
                "Mục đích sử dụng đất",
                "Land use",
                "choice",
                choices=[
                    ["residential", "Đất ở", "Residential"],
                    ["agricultural", "Đất nông nghiệp", "Agricultural"],
                    ["commercial", "Đất thương mại, dịch vụ", "Commercial and services"],
                ],
            ),
            f(
                "since_year",
                "Năm bắt đầu sử dụng đất",
                "Year the use began",
                "integer",
                min_value=1900,
                max_value=2100,
            ),
            phone(),
        ],
        "steps": [
            (*RECEPTION, 5),
            ("Kiểm tra, xác minh hiện trạng thửa đất", "Checking the parcel on the ground", P, 50),
            (
                "Xác định nghĩa vụ tài chính, in Giấy chứng nhận",
                "Fees and printing the certificate",
                P,
                25,
            ),
            (*APPROVAL, 20),
        ],
        "result_title": "Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "result_title_en": "Certificate of land-use rights and ownership of attached assets",
        "result_body": "Người sử dụng đất: {owner_name}. Thửa đất số {parcel_number}, tờ bản đồ số {map_sheet}, địa chỉ {parcel_address}; diện tích {area} m²; mục đích sử dụng: {land_use}.",
        "result_fields": [
            "owner_name",
            "parcel_number",
            "map_sheet",
            "parcel_address",
            "area",
            "land_use",
        ],
    },
    {
        "code": "2.000488",
        "name": "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
        "name_en": "Judicial record card for Vietnamese citizens and foreign residents",
        "sector": "ly-lich-tu-phap",
        "events": ["xin-viec"],
        "agency_kind": DEPARTMENT,
        "department_code": "HN-STP",
        "deadline_days": "10.0",
        "fee": 200000,
        "fee_waived_online": False,
        "eid_level_required": 2,
        "description": "Phí cấp Phiếu lý lịch tư pháp 200.000 đồng/lần (sinh viên, người có công: 100.000 đồng); từ Phiếu thứ 3 trở đi thu thêm 5.000 đồng/Phiếu.",
        "description_en": "200,000 VND per request (students and people with merit: 100,000 VND); 5,000 VND for each card from the third.",
        "papers": [
            (
                "to-khai",
                "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp (mẫu số 03)",
                "Request for a judicial record card (form 03)",
                True,
                IMG,
                5,
            ),
            (
                "giay-to-tuy-than",
                "Bản chụp giấy tờ tùy thân (khi không xác thực bằng VNeID)",
                "Copy of an identity document (when not identified through VNeID)",
                False,
                IMG,
                5,
            ),
        ],
        "fields": [
            *applicant_from_registry(),
            f(
                "card_type",
                "Loại Phiếu",
                "Card type",
                "choice",
                choices=[["1", "Phiếu số 1", "Card no. 1"], ["2", "Phiếu số 2", "Card no. 2"]],
            ),
            f("copies", "Số lượng Phiếu", "Number of cards", "integer", min_value=1, max_value=10),
            f("purpose", "Mục đích sử dụng Phiếu", "Purpose", max_length=200, required=False),
            phone(),
            email(),
        ],
        "steps": steps(5, 75, 20),
        "result_title": "Phiếu lý lịch tư pháp",
        "result_title_en": "Judicial record card",
        "result_body": "Phiếu lý lịch tư pháp số {card_type} của ông/bà {full_name}, sinh ngày {birth_date}, số định danh cá nhân {personal_id}.",
        "result_fields": ["full_name", "birth_date", "personal_id", "card_type"],
    },
    {
        "code": "1.001610",
        "name": "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm đối với cơ sở kinh doanh dịch vụ ăn uống",
        "name_en": "Food safety certificate for a food service business",
        "sector": "an-toan-thuc-pham",
        "events": ["khoi-su-kinh-doanh"],
        "agency_kind": DEPARTMENT,
        "department_code": "HN-SYT",
        "deadline_days": "20.0",
        "fee": 700000,
        "fee_waived_online": False,
        "description": "Phí thẩm định cơ sở kinh doanh dịch vụ ăn uống phục vụ dưới 200 suất ăn: 700.000 đồng/lần. Đoàn thẩm định kiểm tra thực tế tại cơ sở.",
        "description_en": "Inspection fee for a business serving under 200 meals: 700,000 VND. Inspectors visit the premises.",
        "papers": [
            (
                "don-de-nghi",
                "Đơn đề nghị cấp Giấy chứng nhận",
                "Application for the certificate",
                True,
                IMG,
                5,
            ),
            (
                "thuyet-minh",
                "Bản thuyết minh về cơ sở vật chất, trang thiết bị, dụng cụ",
                "Description of the premises and equipment",
                True,
                IMG,
                20,
            ),
            (
                "kien-thuc-attp",
                "Giấy xác nhận đủ kiến thức an toàn thực phẩm",
                "Certificates of food-safety knowledge",
                True,
                IMG,
                10,
            ),
            (
                "dang-ky-kinh-doanh",
                "Giấy chứng nhận đăng ký kinh doanh",
                "Business registration certificate",
                True,
                IMG,
                5,
            ),
        ],
        "fields": [
            f("business_name", "Tên cơ sở", "Business name", max_length=200),
            f("business_address", "Địa chỉ cơ sở", "Business address", max_length=300),
            f(
                "registration_number",
                "Số Giấy chứng nhận đăng ký kinh doanh",
                "Business registration number",
                max_length=30,
            ),
            *person("owner", "chủ cơ sở", "owner"),
            f(
                "service_type",
                "Loại hình kinh doanh",
                "Kind of business",
                "choice",
                choices=[
                    ["restaurant", "Nhà hàng ăn uống", "Restaurant"],
                    ["canteen", "Bếp ăn tập thể", "Canteen"],
                    ["catering", "Kinh doanh suất ăn sẵn", "Catering"],
                    ["eatery", "Quán ăn nhỏ", "Small eatery"],
                ],
            ),
            f(
                "meals_per_day",
                "Số suất ăn mỗi ngày",
                "Meals a day",
                "integer",
                min_value=1,
                max_value=100000,
            ),
            phone(),
            email(True),
        ],
        "steps": [
            (*RECEPTION, 5),
            (
                "Thẩm định hồ sơ và thẩm định thực tế tại cơ sở",
                "Review and on-site inspection",
                P,
                75,
            ),
            (*APPROVAL, 20),
        ],
        "result_title": "Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
        "result_title_en": "Food safety certificate",
        "result_body": "Chứng nhận cơ sở {business_name}, địa chỉ {business_address}, chủ cơ sở {owner_name}, đủ điều kiện an toàn thực phẩm đối với loại hình: {service_type}. Giấy chứng nhận có hiệu lực 03 năm.",
        "result_fields": ["business_name", "business_address", "owner_name", "service_type"],
    },
]


def _sync_children(procedure: Procedure, item: dict[str, Any]) -> None:
    papers = item["papers"]
    for order, (code, name, name_en, required, types, max_mb) in enumerate(papers):
        RequiredPaper.objects.update_or_create(
            procedure=procedure,
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "required": required,
                "file_types": types,
                "max_mb": max_mb,
                "order": order,
            },
        )
    procedure.papers.exclude(code__in=[p[0] for p in papers]).delete()
    fields = item["fields"]
    for order, spec in enumerate(fields):
        defaults = {
            "label": spec["label"],
            "label_en": spec["label_en"],
            "help_text": spec.get("help_text", ""),
            "help_text_en": spec.get("help_text_en", ""),
            "type": spec["type"],
            "required": spec["required"],
            "choices": spec.get("choices", []),
            "pattern": spec.get("pattern", ""),
            "max_length": spec.get("max_length"),
            "min_value": spec.get("min_value"),
            "max_value": spec.get("max_value"),
            "source": spec.get("source", ""),
            "order": order,
        }
        FormField.objects.update_or_create(
            procedure=procedure, name=spec["name"], defaults=defaults
        )
    procedure.fields.exclude(name__in=[x["name"] for x in fields]).delete()
    step_rows = item["steps"]
    for order, (name, name_en, role, share) in enumerate(step_rows):
        ProcessingStep.objects.update_or_create(
            procedure=procedure,
            order=order,
            defaults={"name": name, "name_en": name_en, "role": role, "share": share},
        )
    procedure.steps.filter(order__gte=len(step_rows)).delete()


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    """Idempotent: the same rows and, unless the rules changed, no new versions."""
    sectors = {}
    for order, (code, name, name_en) in enumerate(SECTORS):
        sectors[code], _ = Sector.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "order": order}
        )
    events = {}
    for order, (code, name, name_en, icon) in enumerate(LIFE_EVENTS):
        events[code], _ = LifeEvent.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "icon": icon, "order": order}
        )
    published = 0
    for item in PROCEDURES:
        procedure, _ = Procedure.objects.update_or_create(
            code=item["code"],
            defaults={
                "name": item["name"],
                "name_en": item["name_en"],
                "description": item.get("description", ""),
                "description_en": item.get("description_en", ""),
                "sector": sectors[item["sector"]],
                "agency_kind": item["agency_kind"],
                "department_code": item.get("department_code", ""),
                "online_level": item.get("online_level", Procedure.OnlineLevel.FULL),
                "deadline_days": Decimal(item["deadline_days"]),
                "fee": item["fee"],
                "fee_waived_online": item.get("fee_waived_online", True),
                "cutoff": item.get("cutoff"),
                "result_title": item["result_title"],
                "result_title_en": item["result_title_en"],
                "result_body": item["result_body"],
                "result_fields": item["result_fields"],
                "eid_level_required": item.get("eid_level_required", 0),
                "is_active": True,
            },
        )
        procedure.life_events.set([events[c] for c in item["events"]])
        _sync_children(procedure, item)
        before = procedure.versions.count()
        procedure_publish(procedure=procedure)
        published += procedure.versions.count() - before
    if stdout:
        stdout.write(
            f"procedures: {len(PROCEDURES)} procedures in {len(SECTORS)} sectors, "
            f"{published} new versions published"
        )
