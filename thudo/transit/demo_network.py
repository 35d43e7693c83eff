"""The demo city's bus network as a GTFS zip: fourteen Hanoi routes on real streets, built
deterministically from a seed (no database, no network).

What `build_demo_gtfs()` produces:

* a street graph of about seventy Hanoi places (bus stations, interchanges, junctions) at their
  approximate real coordinates, joined by named streets (Nguyễn Trãi, Giải Phóng, Kim Mã, Cầu
  Chương Dương...). Each street's line is drawn once — straight runs with rounded bends, a point
  every ~35 m — and shared by every route and both directions that use it;
* stops every ~300–560 m on each side of the street (Vietnam drives on the right: a stop sits
  ~6 m right of the line, named "Số 203 Nguyễn Trãi" on one side and "Đối diện số 211 Nguyễn
  Trãi" on the other, or after a landmark), stops just before each junction, none on bridges, and
  one shared stop at each bus station or interchange, so routes that share a street or a hub
  share stops;
* 14 routes ("01", "02", "03A", "09", "18", "22A", "28", "32", "34", "36", "38", "50", "55A",
  "E01") run by two agencies (Transerco and VinBus), both directions; "09" and "18" are loops
  whose terminus is served twice by every trip (first and last stop);
* a weekday and a weekend service every day of 2026–2027 (public holidays run the weekend
  timetable via calendar_dates), 05:00–22:30: every departure leaves early enough to arrive by
  22:30. Headways 8–12 min at weekday peaks (06:30–08:45, 16:30–18:45) and 15–20 min
  otherwise; running times follow Hanoi's traffic (slow at peaks and in the centre);
* blocks: each bus shuttles back and forth between the ends of its route. At each end buses
  leave in the order they came in, after at least 5 min and, where the timetable allows, at most
  10 (about 90 % of layovers; almost all the rest 10–15 min); a bus with nothing to do goes to the
  depot and extra buses come out for the peaks, so some blocks pause at midday. About 190 buses
  in all. The same block id is used on weekdays and weekends, so one block is one bus
  (`vehicle_code_for_block`, `device_id_for_block`).

Ids: routes by their number ("01"), stops "S1001"..., shapes "<route>-<direction>", services
NGAY_THUONG (Monday–Friday) and CUOI_TUAN (weekend), trips "<route>-T|CN-<direction>-<HHMM>",
blocks "<route>-<nn>". shapes.txt and stop_times.txt carry no shape_dist_traveled: the importer
projects the stops onto the shapes.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import math
import random
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache

EARTH_R = 6_371_008.8
LAT0, LON0 = 21.02, 105.83
KY = math.pi * EARTH_R / 180.0
KX = KY * math.cos(math.radians(LAT0))

SERVICE_WEEKDAY = "NGAY_THUONG"
SERVICE_WEEKEND = "CUOI_TUAN"
FEED_START = date(2026, 1, 1)
FEED_END = date(2027, 12, 31)
# Weekdays that are public holidays (Tết, Hùng Kings, 30/4, 1/5, National Day): weekend timetable.
HOLIDAYS = [
    date(2026, 1, 1),
    *(date(2026, 2, 16) + timedelta(days=i) for i in range(5)),  # Tết Bính Ngọ
    date(2026, 4, 27),
    date(2026, 4, 30),
    date(2026, 5, 1),
    date(2026, 9, 1),
    date(2026, 9, 2),
    date(2027, 1, 1),
    *(date(2027, 2, 8) + timedelta(days=i) for i in range(5)),  # Tết Đinh Mùi
    date(2027, 4, 16),
    date(2027, 4, 30),
    date(2027, 9, 2),
    date(2027, 9, 3),
]

FIRST_DEPARTURE_S = 5 * 3600
SERVICE_END_S = 22 * 3600 + 30 * 60
LAYOVER_MIN_S = 5 * 60
LAYOVER_MAX_S = 10 * 60


def vehicle_code_for_block(block_id: str) -> str:
    """The demo bus that runs `block_id` (Vehicle.code)."""
    return f"HN-{block_id}"


def device_id_for_block(block_id: str) -> str:
    """The GPS tracker fitted to that bus (Device.device_id)."""
    return f"GPS-{block_id}"


# --- the places ---------------------------------------------------------------------------------
# key: (name, lat, lon, kind) — kind "hub": one stop at the place itself, shared by every route
# and direction; "stop": a stop just before the junction on each street that reaches it; "via": no
# stop (a bridge end).
NODES: dict[str, tuple[str, float, float, str]] = {
    "GIA_LAM": ("Bến xe Gia Lâm", 21.0486, 105.8782, "hub"),
    "YEN_NGHIA": ("Bến xe Yên Nghĩa", 20.9509, 105.7503, "hub"),
    "GIAP_BAT": ("Bến xe Giáp Bát", 20.9806, 105.8414, "hub"),
    "MY_DINH": ("Bến xe Mỹ Đình", 21.0284, 105.7784, "hub"),
    "NAM_THANG_LONG": ("Bến xe Nam Thăng Long", 21.0668, 105.7798, "hub"),
    "LONG_BIEN": ("Điểm trung chuyển Long Biên", 21.0405, 105.8497, "hub"),
    "HO_GUOM": ("Bờ Hồ (Hồ Gươm)", 21.0306, 105.8526, "hub"),
    "TRAN_KHANH_DU": ("Điểm trung chuyển Trần Khánh Dư", 21.0196, 105.8627, "hub"),
    "CAU_GIAY": ("Điểm trung chuyển Cầu Giấy", 21.0339, 105.7996, "hub"),
    "KTQD": ("Đại học Kinh tế Quốc dân", 20.9999, 105.8453, "hub"),
    "YEN_PHU": ("Yên Phụ", 21.0478, 105.8472, "hub"),
    "CAU_DIEN": ("Cầu Diễn", 21.0408, 105.7594, "hub"),
    "LINH_DAM": ("Khu đô thị Linh Đàm", 20.9641, 105.8288, "hub"),
    "TRUNG_VAN": ("Khu đô thị Trung Văn", 20.9925, 105.7835, "hub"),
    "TIMES_CITY": ("Times City", 20.9953, 105.8683, "hub"),
    "MAI_DONG": ("Mai Động", 20.9878, 105.8629, "hub"),
    "DONG_NGAC": ("Đông Ngạc", 21.0842, 105.7858, "hub"),
    "AEON_LB": ("Aeon Mall Long Biên", 21.0273, 105.8993, "hub"),
    "SVD_MY_DINH": ("Sân vận động Quốc gia Mỹ Đình", 21.0203, 105.7643, "hub"),
    "BX_KIM_MA": ("Bến xe Kim Mã", 21.0313, 105.8243, "hub"),
    "NGUYEN_VAN_CU": ("Ngọc Lâm", 21.0457, 105.8722, "stop"),
    "CD_EAST": ("Đầu cầu Chương Dương (Long Biên)", 21.0437, 105.8668, "via"),
    "CD_WEST": ("Trần Quang Khải (đầu cầu Chương Dương)", 21.0357, 105.8566, "stop"),
    "HANG_DAU": ("Hàng Đậu", 21.0428, 105.8457, "stop"),
    "PHAN_DINH_PHUNG": ("Phan Đình Phùng (Quán Thánh)", 21.0401, 105.8419, "stop"),
    "HOANG_HOA_THAM": ("Hoàng Hoa Thám (Ngọc Hà)", 21.0423, 105.8268, "stop"),
    "BUOI": ("Bưởi", 21.0456, 105.8112, "stop"),
    "CUA_NAM": ("Cửa Nam", 21.0291, 105.8431, "stop"),
    "GA_HA_NOI": ("Ga Hà Nội", 21.0244, 105.8413, "stop"),
    "KHAM_THIEN": ("Khâm Thiên", 21.0193, 105.8414, "stop"),
    "LE_DUAN_S": ("Lê Duẩn – Đại Cồ Việt", 21.0086, 105.8414, "stop"),
    "BACH_MAI": ("Bệnh viện Bạch Mai", 21.0011, 105.8411, "stop"),
    "NGA_TU_VONG": ("Ngã Tư Vọng", 20.9966, 105.8416, "stop"),
    "KIM_DONG": ("Kim Đồng", 20.9871, 105.8411, "stop"),
    "VAN_MIEU": ("Văn Miếu", 21.0281, 105.8357, "stop"),
    "O_CHO_DUA": ("Ô Chợ Dừa", 21.0186, 105.8291, "stop"),
    "TAY_SON": ("Đại học Thủy lợi", 21.0074, 105.8241, "stop"),
    "NGA_TU_SO": ("Ngã Tư Sở", 21.0033, 105.8196, "stop"),
    "THUONG_DINH": ("Thượng Đình", 20.9990, 105.8127, "stop"),
    "KHUAT_DUY_TIEN": ("Khuất Duy Tiến", 20.9941, 105.8011, "stop"),
    "HV_AN_NINH": ("Học viện An ninh nhân dân", 20.9862, 105.7945, "stop"),
    "HA_DONG": ("Hà Đông (Quang Trung)", 20.9714, 105.7779, "stop"),
    "LA_KHE": ("La Khê", 20.9637, 105.7645, "stop"),
    "TRANG_TIEN": ("Tràng Tiền", 21.0248, 105.8548, "stop"),
    "NHA_HAT_LON": ("Nhà hát Lớn", 21.0244, 105.8574, "stop"),
    "HUE_N": ("Phố Huế (Tô Hiến Thành)", 21.0151, 105.8509, "stop"),
    "HUE_S": ("Đại Cồ Việt (Phố Huế)", 21.0091, 105.8508, "stop"),
    "BACH_KHOA": ("Đại học Bách khoa Hà Nội", 21.0073, 105.8469, "stop"),
    "LO_DUC_S": ("Trần Khát Chân (Lò Đúc)", 21.0096, 105.8586, "stop"),
    "NGUYEN_KHOAI": ("Nguyễn Khoái", 21.0108, 105.8668, "stop"),
    "MINH_KHAI": ("Minh Khai (Kim Ngưu)", 20.9976, 105.8592, "stop"),
    "VINH_TUY": ("Cầu Vĩnh Tuy", 20.9993, 105.8765, "stop"),
    "VINH_TUY_E": ("Đầu cầu Vĩnh Tuy (Long Biên)", 21.0105, 105.8915, "via"),
    "LIEU_GIAI": ("Kim Mã – Liễu Giai", 21.0316, 105.8152, "stop"),
    "THU_LE": ("Công viên Thủ Lệ", 21.0318, 105.8071, "stop"),
    "XUAN_THUY": ("Đại học Quốc gia Hà Nội", 21.0378, 105.7826, "stop"),
    "MAI_DICH": ("Mai Dịch", 21.0387, 105.7772, "stop"),
    "KEANGNAM": ("Keangnam (Phạm Hùng)", 21.0168, 105.7838, "stop"),
    "BIG_C": ("Big C Thăng Long", 21.0076, 105.7944, "stop"),
    "TRUNG_HOA": ("Trung Hòa", 21.0132, 105.8003, "stop"),
    "LE_VAN_LUONG": ("Lê Văn Lương – Hoàng Đạo Thúy", 21.0041, 105.8048, "stop"),
    "LANG_HA": ("Láng Hạ", 21.0151, 105.8139, "stop"),
    "THAI_HA": ("Thái Hà", 21.0124, 105.8199, "stop"),
    "CHUA_BOC": ("Chùa Bộc", 21.0071, 105.8301, "stop"),
    "KIM_LIEN": ("Kim Liên", 21.0079, 105.8372, "stop"),
    "LANG": ("Chùa Láng", 21.0233, 105.8059, "stop"),
    "NGHIA_DO": ("Nghĩa Đô", 21.0464, 105.7999, "stop"),
    "PVD_HQV": ("Phạm Văn Đồng – Hoàng Quốc Việt", 21.0467, 105.7807, "stop"),
    "CO_NHUE": ("Học viện Cảnh sát nhân dân", 21.0590, 105.7812, "stop"),
}

# (from, to, street, style, landmarks as (fraction along from→to, name))
# style: "street" (straight runs, rounded bends), "grid" (an L through the old town's grid),
# "bridge" (a long, gently arched line)
EDGES: list[tuple[str, str, str, str, list[tuple[float, str]]]] = [
    ("GIA_LAM", "NGUYEN_VAN_CU", "Ngô Gia Khảm", "street", []),
    ("NGUYEN_VAN_CU", "CD_EAST", "Nguyễn Văn Cừ", "street", [(0.5, "Chợ Gia Lâm")]),
    ("CD_EAST", "CD_WEST", "Cầu Chương Dương", "bridge", []),
    ("CD_WEST", "LONG_BIEN", "Trần Nhật Duật", "street", [(0.5, "Chợ Đồng Xuân")]),
    ("LONG_BIEN", "HANG_DAU", "Hàng Đậu", "street", []),
    ("HANG_DAU", "CUA_NAM", "Phùng Hưng", "grid", [(0.45, "Bệnh viện Xanh Pôn cơ sở 2")]),
    ("CUA_NAM", "VAN_MIEU", "Nguyễn Thái Học", "street", []),
    ("VAN_MIEU", "O_CHO_DUA", "Tôn Đức Thắng", "street", [(0.5, "Hào Nam")]),
    ("O_CHO_DUA", "TAY_SON", "Tây Sơn", "street", [(0.45, "Chợ Thái Hà")]),
    ("TAY_SON", "NGA_TU_SO", "Tây Sơn", "street", []),
    ("NGA_TU_SO", "THUONG_DINH", "Nguyễn Trãi", "street", [(0.5, "Royal City")]),
    (
        "THUONG_DINH",
        "KHUAT_DUY_TIEN",
        "Nguyễn Trãi",
        "street",
        [(0.35, "Đại học Khoa học Tự nhiên"), (0.75, "Đại học Khoa học Xã hội và Nhân văn")],
    ),
    ("KHUAT_DUY_TIEN", "HV_AN_NINH", "Nguyễn Trãi", "street", [(0.5, "Chợ Thanh Xuân")]),
    ("HV_AN_NINH", "HA_DONG", "Trần Phú (Hà Đông)", "street", [(0.45, "Ga Văn Quán")]),
    ("HA_DONG", "LA_KHE", "Quang Trung (Hà Đông)", "street", [(0.5, "Bệnh viện Đa khoa Hà Đông")]),
    ("LA_KHE", "YEN_NGHIA", "Quang Trung (Hà Đông)", "street", [(0.5, "Ba La")]),
    ("TRAN_KHANH_DU", "NHA_HAT_LON", "Tông Đản", "grid", []),
    ("NHA_HAT_LON", "TRANG_TIEN", "Tràng Tiền", "street", []),
    ("TRANG_TIEN", "GA_HA_NOI", "Hai Bà Trưng", "street", [(0.4, "Trường THPT Trần Phú")]),
    ("GA_HA_NOI", "KHAM_THIEN", "Lê Duẩn", "street", []),
    ("KHAM_THIEN", "O_CHO_DUA", "Khâm Thiên", "street", [(0.5, "Chợ Khâm Thiên")]),
    ("GIAP_BAT", "KIM_DONG", "Giải Phóng", "street", []),
    ("KIM_DONG", "NGA_TU_VONG", "Giải Phóng", "street", [(0.5, "Bệnh viện K cơ sở Phúc Tân")]),
    ("NGA_TU_VONG", "BACH_MAI", "Giải Phóng", "street", [(0.5, "Đại học Kinh tế Quốc dân")]),
    ("BACH_MAI", "LE_DUAN_S", "Giải Phóng", "street", [(0.5, "Bến xe Kim Liên cũ")]),
    ("LE_DUAN_S", "BACH_KHOA", "Đại Cồ Việt", "street", []),
    ("BACH_KHOA", "HUE_S", "Đại Cồ Việt", "street", []),
    ("HUE_S", "LO_DUC_S", "Trần Khát Chân", "street", [(0.5, "Chợ Mơ")]),
    ("LO_DUC_S", "NGUYEN_KHOAI", "Trần Khát Chân", "street", []),
    ("NGUYEN_KHOAI", "TRAN_KHANH_DU", "Trần Khánh Dư", "street", [(0.5, "Công viên Bạch Đằng")]),
    ("TRAN_KHANH_DU", "CD_WEST", "Trần Quang Khải", "street", [(0.5, "Bảo tàng Lịch sử Quân sự")]),
    ("HO_GUOM", "TRANG_TIEN", "Đinh Tiên Hoàng", "street", [(0.5, "Đền Ngọc Sơn")]),
    ("CUA_NAM", "GA_HA_NOI", "Lê Duẩn", "street", []),
    ("VAN_MIEU", "BX_KIM_MA", "Nguyễn Thái Học", "street", [(0.5, "Bảo tàng Mỹ thuật Việt Nam")]),
    ("BX_KIM_MA", "LIEU_GIAI", "Kim Mã", "street", [(0.5, "Trường THCS Giảng Võ")]),
    ("LIEU_GIAI", "THU_LE", "Kim Mã", "street", [(0.5, "Đại sứ quán Nhật Bản")]),
    ("THU_LE", "CAU_GIAY", "Cầu Giấy", "street", []),
    ("CAU_GIAY", "BUOI", "Bưởi", "street", [(0.5, "Chợ Bưởi")]),
    ("BUOI", "HOANG_HOA_THAM", "Hoàng Hoa Thám", "street", [(0.5, "Bệnh viện Phổi Trung ương")]),
    ("HOANG_HOA_THAM", "PHAN_DINH_PHUNG", "Hoàng Hoa Thám", "street", [(0.5, "Phủ Chủ tịch")]),
    ("PHAN_DINH_PHUNG", "HANG_DAU", "Phan Đình Phùng", "street", []),
    ("HANG_DAU", "HO_GUOM", "Hàng Đường – Hàng Đào", "grid", [(0.4, "Chợ Hàng Da")]),
    ("KTQD", "BACH_KHOA", "Trần Đại Nghĩa", "street", []),
    ("HUE_S", "HUE_N", "Phố Huế", "street", []),
    ("HUE_N", "TRANG_TIEN", "Hàng Bài", "grid", [(0.5, "Vincom Bà Triệu")]),
    ("LONG_BIEN", "CD_WEST", "Trần Nhật Duật", "street", []),
    ("LO_DUC_S", "MINH_KHAI", "Kim Ngưu", "street", []),
    ("MINH_KHAI", "NGA_TU_VONG", "Minh Khai – Đại La", "street", [(0.5, "Chợ Mai Động")]),
    ("NGA_TU_VONG", "KTQD", "Trần Đại Nghĩa", "street", []),
    ("LE_DUAN_S", "KIM_LIEN", "Đào Duy Anh", "street", []),
    ("KIM_LIEN", "CHUA_BOC", "Phạm Ngọc Thạch", "street", [(0.5, "Bệnh viện Lao Trung ương")]),
    ("CHUA_BOC", "TAY_SON", "Chùa Bộc", "street", [(0.5, "Học viện Ngân hàng")]),
    ("KHUAT_DUY_TIEN", "TRUNG_VAN", "Tố Hữu", "street", []),
    (
        "NGA_TU_VONG",
        "NGA_TU_SO",
        "Trường Chinh",
        "street",
        [(0.5, "Học viện Chính sách và Phát triển")],
    ),
    ("NGA_TU_SO", "LANG", "Láng", "street", [(0.55, "Đại học Giao thông Vận tải")]),
    ("LANG", "CAU_GIAY", "Láng – Cầu Giấy", "street", []),
    ("CAU_GIAY", "NGHIA_DO", "Nguyễn Văn Huyên", "street", [(0.5, "Bảo tàng Dân tộc học")]),
    ("NGHIA_DO", "PVD_HQV", "Hoàng Quốc Việt", "street", [(0.5, "Viện Hàn lâm KH&CN Việt Nam")]),
    ("PVD_HQV", "CO_NHUE", "Phạm Văn Đồng", "street", [(0.5, "Đại học Mỏ – Địa chất")]),
    ("CO_NHUE", "NAM_THANG_LONG", "Phạm Văn Đồng", "street", []),
    ("NAM_THANG_LONG", "DONG_NGAC", "Đông Ngạc", "street", [(0.5, "Chợ Đông Ngạc")]),
    ("LE_DUAN_S", "KHAM_THIEN", "Lê Duẩn", "street", [(0.5, "Công viên Thống Nhất")]),
    ("CAU_GIAY", "XUAN_THUY", "Xuân Thủy", "street", [(0.5, "Đại học Sư phạm Hà Nội")]),
    ("XUAN_THUY", "MAI_DICH", "Hồ Tùng Mậu", "street", []),
    ("MAI_DICH", "CAU_DIEN", "Hồ Tùng Mậu – Cầu Diễn", "street", [(0.5, "Học viện Tài chính")]),
    ("MY_DINH", "MAI_DICH", "Phạm Hùng", "street", []),
    ("BX_KIM_MA", "PHAN_DINH_PHUNG", "Hùng Vương", "street", [(0.5, "Lăng Chủ tịch Hồ Chí Minh")]),
    ("YEN_PHU", "HANG_DAU", "Yên Phụ", "street", []),
    ("GIAP_BAT", "LINH_DAM", "Nguyễn Hữu Thọ", "street", [(0.5, "Bán đảo Linh Đàm")]),
    ("PVD_HQV", "NGHIA_DO", "Hoàng Quốc Việt", "street", []),
    ("NGHIA_DO", "BUOI", "Hoàng Quốc Việt – Bưởi", "street", []),
    ("BUOI", "LIEU_GIAI", "Liễu Giai", "street", [(0.5, "Đài Truyền hình Việt Nam")]),
    ("LIEU_GIAI", "LANG_HA", "Nguyễn Chí Thanh", "street", [(0.5, "Sân vận động Hàng Đẫy")]),
    ("LANG_HA", "THAI_HA", "Thái Hà", "street", []),
    ("THAI_HA", "CHUA_BOC", "Chùa Bộc", "street", []),
    ("HUE_S", "MINH_KHAI", "Bạch Mai", "street", [(0.5, "Chợ Mơ")]),
    ("MINH_KHAI", "MAI_DONG", "Tam Trinh", "street", []),
    ("CAU_GIAY", "TRUNG_HOA", "Trung Kính", "street", []),
    ("TRUNG_HOA", "BIG_C", "Trần Duy Hưng", "street", []),
    ("BIG_C", "KEANGNAM", "Phạm Hùng", "street", []),
    ("KEANGNAM", "SVD_MY_DINH", "Lê Quang Đạo", "street", [(0.5, "Trung tâm Hội nghị Quốc gia")]),
    ("TIMES_CITY", "MINH_KHAI", "Minh Khai", "street", []),
    ("LANG_HA", "LANG", "Láng Hạ", "street", []),
    ("MY_DINH", "KEANGNAM", "Phạm Hùng", "street", [(0.5, "Bảo tàng Hà Nội")]),
    ("BIG_C", "LE_VAN_LUONG", "Hoàng Minh Giám", "street", []),
    ("LE_VAN_LUONG", "NGA_TU_SO", "Lê Văn Lương", "street", [(0.5, "Khu đô thị Nam Trung Yên")]),
    ("TIMES_CITY", "VINH_TUY", "Minh Khai", "street", []),
    ("VINH_TUY", "VINH_TUY_E", "Cầu Vĩnh Tuy", "bridge", []),
    ("VINH_TUY_E", "AEON_LB", "Cổ Linh", "street", []),
]


@dataclass(frozen=True)
class RouteDef:
    short_name: str
    agency_id: str
    long_name: str
    nodes: list[str]
    peak_headway_min: int  # weekday peaks (8–12)
    offpeak_min: tuple[int, int]  # the rest of the day (15–20)
    color: str
    headsigns: tuple[str, str] = ("", "")  # for loops (both directions end where they start)
    description: str = ""


ROUTES: list[RouteDef] = [
    RouteDef(
        "01",
        "TRANSERCO",
        "Bến xe Gia Lâm – Bến xe Yên Nghĩa",
        [
            "GIA_LAM",
            "NGUYEN_VAN_CU",
            "CD_EAST",
            "CD_WEST",
            "LONG_BIEN",
            "HANG_DAU",
            "CUA_NAM",
            "VAN_MIEU",
            "O_CHO_DUA",
            "TAY_SON",
            "NGA_TU_SO",
            "THUONG_DINH",
            "KHUAT_DUY_TIEN",
            "HV_AN_NINH",
            "HA_DONG",
            "LA_KHE",
            "YEN_NGHIA",
        ],
        11,
        (15, 20),
        "B71C1C",
        description="Qua cầu Chương Dương, Long Biên, Văn Miếu, Tây Sơn, Nguyễn Trãi, Hà Đông.",
    ),
    RouteDef(
        "02",
        "TRANSERCO",
        "Trần Khánh Dư – Bến xe Yên Nghĩa",
        [
            "TRAN_KHANH_DU",
            "NHA_HAT_LON",
            "TRANG_TIEN",
            "GA_HA_NOI",
            "KHAM_THIEN",
            "O_CHO_DUA",
            "TAY_SON",
            "NGA_TU_SO",
            "THUONG_DINH",
            "KHUAT_DUY_TIEN",
            "HV_AN_NINH",
            "HA_DONG",
            "LA_KHE",
            "YEN_NGHIA",
        ],
        12,
        (15, 20),
        "0D47A1",
        description="Qua Nhà hát Lớn, Hai Bà Trưng, Khâm Thiên, Nguyễn Trãi.",
    ),
    RouteDef(
        "03A",
        "TRANSERCO",
        "Bến xe Giáp Bát – Bến xe Gia Lâm",
        [
            "GIAP_BAT",
            "KIM_DONG",
            "NGA_TU_VONG",
            "BACH_MAI",
            "LE_DUAN_S",
            "BACH_KHOA",
            "HUE_S",
            "LO_DUC_S",
            "NGUYEN_KHOAI",
            "TRAN_KHANH_DU",
            "CD_WEST",
            "CD_EAST",
            "NGUYEN_VAN_CU",
            "GIA_LAM",
        ],
        10,
        (15, 20),
        "1B5E20",
        description="Qua Giải Phóng, Đại Cồ Việt, Trần Khát Chân, cầu Chương Dương.",
    ),
    RouteDef(
        "09",
        "TRANSERCO",
        "Bờ Hồ – Cầu Giấy – Bờ Hồ",
        [
            "HO_GUOM",
            "TRANG_TIEN",
            "GA_HA_NOI",
            "CUA_NAM",
            "VAN_MIEU",
            "BX_KIM_MA",
            "LIEU_GIAI",
            "THU_LE",
            "CAU_GIAY",
            "BUOI",
            "HOANG_HOA_THAM",
            "PHAN_DINH_PHUNG",
            "HANG_DAU",
            "HO_GUOM",
        ],
        10,
        (15, 20),
        "4A148C",
        headsigns=("Bờ Hồ (qua Kim Mã, Cầu Giấy)", "Bờ Hồ (qua Hoàng Hoa Thám, Cầu Giấy)"),
        description="Tuyến vòng: Bờ Hồ – Ga Hà Nội – Kim Mã – Cầu Giấy – Hoàng Hoa Thám – Bờ Hồ.",
    ),
    RouteDef(
        "18",
        "TRANSERCO",
        "Đại học Kinh tế Quốc dân – Long Biên – Đại học Kinh tế Quốc dân",
        [
            "KTQD",
            "BACH_KHOA",
            "HUE_S",
            "HUE_N",
            "TRANG_TIEN",
            "HO_GUOM",
            "HANG_DAU",
            "LONG_BIEN",
            "CD_WEST",
            "TRAN_KHANH_DU",
            "NGUYEN_KHOAI",
            "LO_DUC_S",
            "MINH_KHAI",
            "NGA_TU_VONG",
            "KTQD",
        ],
        12,
        (15, 20),
        "BF360C",
        headsigns=(
            "Đại học Kinh tế Quốc dân (qua Phố Huế, Long Biên)",
            "Đại học Kinh tế Quốc dân (qua Minh Khai, Long Biên)",
        ),
        description="Tuyến vòng qua Bách Khoa, Phố Huế, Bờ Hồ, Long Biên, Trần Khánh Dư.",
    ),
    RouteDef(
        "22A",
        "TRANSERCO",
        "Bến xe Gia Lâm – Khu đô thị Trung Văn",
        [
            "GIA_LAM",
            "NGUYEN_VAN_CU",
            "CD_EAST",
            "CD_WEST",
            "TRAN_KHANH_DU",
            "NGUYEN_KHOAI",
            "LO_DUC_S",
            "HUE_S",
            "BACH_KHOA",
            "LE_DUAN_S",
            "KIM_LIEN",
            "CHUA_BOC",
            "TAY_SON",
            "NGA_TU_SO",
            "THUONG_DINH",
            "KHUAT_DUY_TIEN",
            "TRUNG_VAN",
        ],
        12,
        (15, 20),
        "006064",
    ),
    RouteDef(
        "28",
        "TRANSERCO",
        "Bến xe Giáp Bát – Đông Ngạc",
        [
            "GIAP_BAT",
            "KIM_DONG",
            "NGA_TU_VONG",
            "NGA_TU_SO",
            "LANG",
            "CAU_GIAY",
            "NGHIA_DO",
            "PVD_HQV",
            "CO_NHUE",
            "NAM_THANG_LONG",
            "DONG_NGAC",
        ],
        12,
        (15, 20),
        "880E4F",
    ),
    RouteDef(
        "32",
        "TRANSERCO",
        "Bến xe Giáp Bát – Cầu Diễn",
        [
            "GIAP_BAT",
            "KIM_DONG",
            "NGA_TU_VONG",
            "BACH_MAI",
            "LE_DUAN_S",
            "KHAM_THIEN",
            "GA_HA_NOI",
            "CUA_NAM",
            "VAN_MIEU",
            "BX_KIM_MA",
            "LIEU_GIAI",
            "THU_LE",
            "CAU_GIAY",
            "XUAN_THUY",
            "MAI_DICH",
            "CAU_DIEN",
        ],
        9,
        (15, 20),
        "1A237E",
        description="Qua Giải Phóng, Lê Duẩn, Nguyễn Thái Học, Kim Mã, Cầu Giấy, Xuân Thủy.",
    ),
    RouteDef(
        "34",
        "TRANSERCO",
        "Bến xe Mỹ Đình – Bến xe Gia Lâm",
        [
            "MY_DINH",
            "MAI_DICH",
            "XUAN_THUY",
            "CAU_GIAY",
            "THU_LE",
            "LIEU_GIAI",
            "BX_KIM_MA",
            "PHAN_DINH_PHUNG",
            "HANG_DAU",
            "LONG_BIEN",
            "CD_WEST",
            "CD_EAST",
            "NGUYEN_VAN_CU",
            "GIA_LAM",
        ],
        11,
        (15, 20),
        "33691E",
    ),
    RouteDef(
        "36",
        "TRANSERCO",
        "Yên Phụ – Khu đô thị Linh Đàm",
        [
            "YEN_PHU",
            "HANG_DAU",
            "CUA_NAM",
            "GA_HA_NOI",
            "KHAM_THIEN",
            "LE_DUAN_S",
            "BACH_MAI",
            "NGA_TU_VONG",
            "KIM_DONG",
            "GIAP_BAT",
            "LINH_DAM",
        ],
        12,
        (15, 20),
        "3E2723",
    ),
    RouteDef(
        "38",
        "TRANSERCO",
        "Bến xe Nam Thăng Long – Mai Động",
        [
            "NAM_THANG_LONG",
            "CO_NHUE",
            "PVD_HQV",
            "NGHIA_DO",
            "BUOI",
            "LIEU_GIAI",
            "LANG_HA",
            "THAI_HA",
            "CHUA_BOC",
            "KIM_LIEN",
            "LE_DUAN_S",
            "BACH_KHOA",
            "HUE_S",
            "MINH_KHAI",
            "MAI_DONG",
        ],
        12,
        (15, 20),
        "01579B",
    ),
    RouteDef(
        "50",
        "TRANSERCO",
        "Long Biên – Sân vận động Quốc gia Mỹ Đình",
        [
            "LONG_BIEN",
            "HANG_DAU",
            "PHAN_DINH_PHUNG",
            "BX_KIM_MA",
            "LIEU_GIAI",
            "THU_LE",
            "CAU_GIAY",
            "TRUNG_HOA",
            "BIG_C",
            "KEANGNAM",
            "SVD_MY_DINH",
        ],
        12,
        (15, 20),
        "AD1457",
    ),
    RouteDef(
        "55A",
        "TRANSERCO",
        "Times City – Cầu Giấy",
        [
            "TIMES_CITY",
            "MINH_KHAI",
            "HUE_S",
            "BACH_KHOA",
            "LE_DUAN_S",
            "KIM_LIEN",
            "CHUA_BOC",
            "THAI_HA",
            "LANG_HA",
            "LANG",
            "CAU_GIAY",
        ],
        12,
        (15, 20),
        "5D4037",
    ),
    RouteDef(
        "E01",
        "VINBUS",
        "Bến xe Mỹ Đình – Aeon Mall Long Biên",
        [
            "MY_DINH",
            "KEANGNAM",
            "BIG_C",
            "LE_VAN_LUONG",
            "NGA_TU_SO",
            "NGA_TU_VONG",
            "MINH_KHAI",
            "TIMES_CITY",
            "VINH_TUY",
            "VINH_TUY_E",
            "AEON_LB",
        ],
        12,
        (15, 20),
        "00695C",
        description="Xe buýt điện: Phạm Hùng, Lê Văn Lương, Trường Chinh, Minh Khai, cầu Vĩnh Tuy.",
    ),
]

AGENCIES = [
    (
        "TRANSERCO",
        "Tổng công ty Vận tải Hà Nội (Transerco)",
        "https://www.transerco.com.vn",
        "1900 1296",
    ),
    ("VINBUS", "Công ty TNHH Kinh doanh và Dịch vụ VinBus", "https://vinbus.vn", "1900 23 23 89"),
]


# --- geometry -----------------------------------------------------------------------------------

XY = tuple[float, float]


def _xy(lat: float, lon: float) -> XY:
    return ((lon - LON0) * KX, (lat - LAT0) * KY)


def _latlon(p: XY) -> tuple[float, float]:
    return (LAT0 + p[1] / KY, LON0 + p[0] / KX)


def _dist(a: XY, b: XY) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _densify(points: list[XY], step: float) -> list[XY]:
    out = [points[0]]
    for a, b in itertools.pairwise(points):
        d = _dist(a, b)
        n = max(1, math.ceil(d / step))
        for i in range(1, n + 1):
            t = i / n
            out.append((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
    return out


def _fillet(points: list[XY], radius: float) -> list[XY]:
    """Round each corner of a polyline with a quadratic curve of about `radius` metres."""
    if len(points) < 3:
        return list(points)
    out = [points[0]]
    for i in range(1, len(points) - 1):
        a, p, b = points[i - 1], points[i], points[i + 1]
        la, lb = _dist(a, p), _dist(p, b)
        r = min(radius, 0.4 * la, 0.4 * lb)
        if r < 1:
            out.append(p)
            continue
        t1 = (p[0] + (a[0] - p[0]) * r / la, p[1] + (a[1] - p[1]) * r / la)
        t2 = (p[0] + (b[0] - p[0]) * r / lb, p[1] + (b[1] - p[1]) * r / lb)
        for k in range(0, 7):
            t = k / 6
            u = 1 - t
            out.append(
                (
                    u * u * t1[0] + 2 * u * t * p[0] + t * t * t2[0],
                    u * u * t1[1] + 2 * u * t * p[1] + t * t * t2[1],
                )
            )
    out.append(points[-1])
    return out


def _edge_line(a: XY, b: XY, style: str, rng: random.Random) -> list[XY]:
    """A street from a to b: straight runs between a few bends, rounded, a point every ~35 m."""
    length = _dist(a, b)
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    px, py = -uy, ux  # left normal
    if style == "bridge":
        # a gentle arch: the approach ramps curve onto the bridge axis
        ctrl = [a]
        for t, off in ((0.12, 0.03), (0.5, 0.015), (0.88, -0.02)):
            o = off * length * (1 if rng.random() < 0.5 else -1)
            ctrl.append((a[0] + ux * length * t + px * o, a[1] + uy * length * t + py * o))
        ctrl.append(b)
        return _densify(_fillet(ctrl, 120.0), 40.0)
    if style == "grid":
        # the old town: an L (or a Z) along a street grid turned by a few degrees
        theta = math.radians(rng.uniform(-12.0, 12.0))
        ex = (math.cos(theta), math.sin(theta))
        ey = (-math.sin(theta), math.cos(theta))
        dx, dy = b[0] - a[0], b[1] - a[1]
        cx = dx * ex[0] + dy * ex[1]
        cy = dx * ey[0] + dy * ey[1]
        if rng.random() < 0.5:
            mid = 0.55 * cy
            c1 = (a[0] + ey[0] * mid, a[1] + ey[1] * mid)
            c2 = (c1[0] + ex[0] * cx, c1[1] + ex[1] * cx)
            ctrl = [a, c1, c2, b]
        else:
            c1 = (a[0] + ex[0] * cx, a[1] + ex[1] * cx)
            ctrl = [a, c1, b]
        return _densify(_fillet(ctrl, 25.0), 30.0)
    # a city street: a few bends where the street meets others, each a few degrees off the line
    n_bends = max(1, min(9, int(length // 320)))
    ctrl = [a]
    prev_off = 0.0
    for i in range(1, n_bends + 1):
        t = (i + rng.uniform(-0.25, 0.25)) / (n_bends + 1)
        limit = min(0.07 * length, 70.0)
        off = max(-limit, min(limit, prev_off + rng.uniform(-0.6, 0.6) * limit))
        prev_off = off
        ctrl.append((a[0] + ux * length * t + px * off, a[1] + uy * length * t + py * off))
    ctrl.append(b)
    return _densify(_fillet(ctrl, 45.0), 35.0)


def _cumulative(points: list[XY]) -> list[float]:
    cum = [0.0]
    for a, b in itertools.pairwise(points):
        cum.append(cum[-1] + _dist(a, b))
    return cum


def _point_at(points: list[XY], cum: list[float], d: float) -> tuple[XY, XY]:
    """The point `d` metres along the line and the unit direction there."""
    d = min(max(d, 0.0), cum[-1])
    lo, hi = 0, len(cum) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cum[mid] <= d:
            lo = mid
        else:
            hi = mid
    a, b = points[lo], points[hi]
    seg = cum[hi] - cum[lo]
    t = 0.0 if seg == 0 else (d - cum[lo]) / seg
    length = _dist(a, b) or 1.0
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t), (
        (b[0] - a[0]) / length,
        (b[1] - a[1]) / length,
    )


# --- stops, shapes ------------------------------------------------------------------------------


@dataclass
class _Stop:
    stop_id: str
    code: str
    name: str
    desc: str
    lat: float
    lon: float
    wheelchair: int


@dataclass
class _Pattern:
    route: RouteDef
    direction: int
    shape_id: str
    points: list[XY]
    stops: list[tuple[str, float, XY]]  # stop_id, dist along the shape, position
    headsign: str
    length: float = 0.0
    segments: list[tuple[float, float]] = field(default_factory=list)


_Edge = tuple[list[XY], list[float], str, str, list[tuple[float, str]], int]


@dataclass
class _Network:
    stops: dict[str, _Stop] = field(default_factory=dict)
    patterns: list[_Pattern] = field(default_factory=list)


STOP_SPACING_MAX_M = 560.0
NODE_STOP_BEFORE_M = 30.0
SIDE_OFFSET_M = 6.0
CENTRE = _xy(21.0287, 105.8524)  # Hồ Gươm


def _street_part(street: str, frac: float) -> str:
    """The street a point is on when an edge runs along two ("Hàng Đường – Hàng Đào")."""
    parts = street.split(" – ")
    return parts[min(len(parts) - 1, int(frac * len(parts)))]


def _build_network(seed: int) -> _Network:
    node_xy = {k: _xy(v[1], v[2]) for k, v in NODES.items()}
    edges: dict[tuple[str, str], _Edge] = {}
    for a, b, street, style, landmarks in EDGES:
        erng = random.Random(f"{seed}:{a}:{b}")  # noqa: S311 — reproducible demo data
        line = _edge_line(node_xy[a], node_xy[b], style, erng)
        house0 = erng.randrange(1, 60)
        edges[(a, b)] = (line, _cumulative(line), street, style, landmarks, house0)
    net = _Network()
    code_counter = [1000]
    stop_keys: dict[tuple[str, ...], str] = {}

    def new_stop(key: tuple[str, ...], name: str, desc: str, pos: XY, wheelchair: int) -> str:
        if key in stop_keys:
            return stop_keys[key]
        code_counter[0] += 1
        code = str(code_counter[0])
        stop_id = f"S{code}"
        lat, lon = _latlon(pos)
        net.stops[stop_id] = _Stop(stop_id, code, name, desc, lat, lon, wheelchair)
        stop_keys[key] = stop_id
        return stop_id

    def hub_stop(node: str) -> str:
        name = NODES[node][0]
        return new_stop(("hub", node), name, "Điểm đầu cuối, trung chuyển", node_xy[node], 1)

    for route in ROUTES:
        for direction in (0, 1):
            seq = route.nodes if direction == 0 else list(reversed(route.nodes))
            points: list[XY] = [node_xy[seq[0]]]
            stops: list[tuple[str, float, XY]] = [(hub_stop(seq[0]), 0.0, node_xy[seq[0]])]
            offset = 0.0
            for a, b in itertools.pairwise(seq):
                forward = (a, b) in edges
                line, cum, street, style, landmarks, house0 = edges[(a, b) if forward else (b, a)]
                if not forward:
                    line = list(reversed(line))
                    cum = _cumulative(line)
                length = cum[-1]
                # interior stops, evenly spaced; the other side of the street is staggered
                k = max(1, math.ceil((length - NODE_STOP_BEFORE_M) / STOP_SPACING_MAX_M))
                if style == "bridge":
                    k = 1  # no stop on a bridge
                for j in range(1, k):
                    d = length * j / k + (0.0 if forward else 35.0)
                    canon_frac = (d / length) if forward else (1 - d / length)
                    pos, (ux, uy) = _point_at(line, cum, d)
                    side = (pos[0] + uy * SIDE_OFFSET_M, pos[1] - ux * SIDE_OFFSET_M)
                    part = _street_part(street, canon_frac)
                    number = house0 + int(canon_frac * length / 8.0)
                    number = number * 2 + (1 if forward else 0)  # odd one side, even the other
                    landmark = ""
                    for frac, lname in landmarks:
                        if abs(frac - canon_frac) <= 0.5 / k:
                            landmark = lname
                    if landmark:
                        name = landmark if forward else f"Đối diện {landmark}"
                    else:
                        name = (
                            f"Số {number} {part}" if forward else f"Đối diện số {number - 1} {part}"
                        )
                    sid = new_stop(
                        ("edge", a, b, str(j)),
                        name,
                        f"{part}, hướng {NODES[b][0]}",
                        side,
                        0,
                    )
                    stops.append((sid, offset + d, side))
                # the stop at the end of this street
                kind = NODES[b][3]
                if kind == "hub":
                    stops.append((hub_stop(b), offset + length, node_xy[b]))
                elif kind == "stop":
                    d = max(length * 0.5, length - NODE_STOP_BEFORE_M)
                    pos, (ux, uy) = _point_at(line, cum, d)
                    side = (pos[0] + uy * SIDE_OFFSET_M, pos[1] - ux * SIDE_OFFSET_M)
                    part = _street_part(street, 1.0 if forward else 0.0)
                    node_name = NODES[b][0]
                    if "(" not in node_name and part not in node_name:
                        node_name = f"{node_name} ({part})"
                    sid = new_stop(
                        ("node", b, a),
                        node_name,
                        f"{part}, trước nút giao {NODES[b][0]}",
                        side,
                        0,
                    )
                    stops.append((sid, offset + d, side))
                points.extend(line[1:])
                offset += length
            headsign = route.headsigns[direction] if route.headsigns[0] else NODES[seq[-1]][0]
            shape = _Pattern(
                route,
                direction,
                f"{route.short_name}-{direction}",
                points,
                stops,
                headsign,
                offset,
            )
            net.patterns.append(shape)
    return net


# --- timetables ---------------------------------------------------------------------------------

# traffic: a factor on the free speed by hour of the day (linear between the points)
_WEEKDAY_TRAFFIC = [
    (0, 1.25),
    (5.5, 1.2),
    (6.25, 1.0),
    (7.0, 0.76),
    (8.0, 0.7),
    (9.0, 0.8),
    (9.75, 0.95),
    (11.5, 0.93),
    (12.25, 0.88),
    (13.5, 0.95),
    (16.0, 0.88),
    (17.0, 0.72),
    (18.0, 0.68),
    (19.0, 0.78),
    (20.0, 0.98),
    (22.0, 1.15),
    (30.0, 1.25),
]
_WEEKEND_TRAFFIC = [
    (0, 1.25),
    (6.0, 1.2),
    (8.0, 1.0),
    (10.0, 0.92),
    (12.0, 0.95),
    (16.5, 0.86),
    (19.0, 0.84),
    (21.0, 1.02),
    (24.0, 1.2),
    (30.0, 1.25),
]
FREE_SPEED_MS = 24.0 / 3.6  # a bus between stops, lights included, off-peak, outer roads
DWELL_S = 20


def _traffic(seconds: float, weekend: bool) -> float:
    h = seconds / 3600.0
    table = _WEEKEND_TRAFFIC if weekend else _WEEKDAY_TRAFFIC
    for (h0, f0), (h1, f1) in itertools.pairwise(table):
        if h0 <= h <= h1:
            return f0 + (f1 - f0) * (h - h0) / (h1 - h0)
    return table[-1][1]


def _place_factor(p: XY) -> float:
    """Slower in the old town and centre, faster on the outer roads."""
    r = _dist(p, CENTRE)
    if r < 1500:
        return 0.78
    if r < 3500:
        return 0.9
    if r < 6000:
        return 1.0
    return 1.12


@lru_cache(maxsize=2)
def _traffic_by_minute(weekend: bool) -> list[float]:
    return [_traffic(m * 60.0, weekend) for m in range(30 * 60 + 1)]


def _segments(pattern: _Pattern) -> list[tuple[float, float]]:
    """(length, place factor) of each stop-to-stop segment of a pattern."""
    out = []
    stops = pattern.stops
    for i in range(1, len(stops)):
        seg = stops[i][1] - stops[i - 1][1]
        mid = ((stops[i][2][0] + stops[i - 1][2][0]) / 2, (stops[i][2][1] + stops[i - 1][2][1]) / 2)
        out.append((seg, _place_factor(mid)))
    return out


def _trip_times(pattern: _Pattern, departure: int, weekend: bool) -> list[int]:
    traffic = _traffic_by_minute(weekend)
    segments = pattern.segments or _segments(pattern)
    pattern.segments = segments
    times = [departure]
    t = float(departure)
    last = len(segments) - 1
    for i, (seg, place) in enumerate(segments):
        t += seg / (FREE_SPEED_MS * traffic[min(len(traffic) - 1, int(t // 60))] * place)
        if i < last:
            t += DWELL_S
        times.append(round(t))
    return times


def _is_peak(route: RouteDef, t: int, weekend: bool) -> bool:
    h = t / 3600.0
    return not weekend and (6.5 <= h < 8.75 or 16.5 <= h < 18.75)


def _headway_window(route: RouteDef, t: int, weekend: bool) -> tuple[int, int]:
    if _is_peak(route, t, weekend):
        p = route.peak_headway_min
        return max(8, p - 2) * 60, min(12, p + 1) * 60
    lo, hi = route.offpeak_min
    return lo * 60, hi * 60


@dataclass
class _Trip:
    trip_id: str
    pattern: _Pattern
    service_id: str
    block_id: str
    times: list[int]


def _schedule(route: RouteDef, patterns: dict[int, _Pattern], weekend: bool) -> list[_Trip]:
    """Dispatch buses from both ends of the route (see the module docstring)."""
    service = SERVICE_WEEKEND if weekend else SERVICE_WEEKDAY
    runs: dict[tuple[int, int], list[int]] = {}

    def run(direction: int, dep: int) -> list[int]:
        key = (direction, dep)
        if key not in runs:
            runs[key] = _trip_times(patterns[direction], dep, weekend)
        return runs[key]

    limit = {}
    for d in (0, 1):
        # the last departure that still arrives by the end of service
        dep = SERVICE_END_S - SERVICE_END_S % 60
        while dep > 20 * 3600 and run(d, dep)[-1] > SERVICE_END_S:
            dep -= 60
        limit[d] = dep
    last_dep: dict[int, int | None] = {0: None, 1: None}
    pools: dict[int, list[tuple[int, int]]] = {0: [], 1: []}  # (arrival, bus)
    depots: dict[int, list[tuple[int, int]]] = {0: [], 1: []}  # (free since, bus)
    bus_trips: dict[int, list[tuple[int, int, list[int]]]] = {}  # bus -> (direction, dep, times)

    def minute_up(t: int) -> int:
        return t if t % 60 == 0 else t + 60 - t % 60

    while True:
        best: tuple[int, int, int] | None = None
        for d in (0, 1):
            last = last_dep[d]
            if last is None:
                lo = hi = FIRST_DEPARTURE_S
            else:
                hmin, hmax = _headway_window(route, last, weekend)
                lo, hi = last + hmin, last + hmax
            if lo > limit[d]:
                continue
            if best is None or lo < best[1]:
                best = (d, lo, min(hi, limit[d]))
        if best is None:
            break
        d, lo, hi = best
        pool = sorted(pools[d])
        ready = [p for p in pool if p[0] + LAYOVER_MIN_S <= hi]
        bus: int
        if ready:
            arr, bus = ready[0]
            dep = max(lo, minute_up(arr + LAYOVER_MIN_S))
            while dep - arr > LAYOVER_MAX_S and len(ready) > 1:
                # more buses here than the timetable needs: the one that waited goes to the depot
                pools[d].remove((arr, bus))
                depots[d].append((arr, bus))
                ready.pop(0)
                arr, bus = ready[0]
                dep = max(lo, minute_up(arr + LAYOVER_MIN_S))
            pools[d].remove((arr, bus))
            if dep - arr > LAYOVER_MAX_S:
                # this bus would wait too long: one that has rested at the depot for an hour
                # takes the trip instead, and this one goes to rest
                rested = sorted(p for p in depots[d] if p[0] <= dep - 3600)
                if rested:
                    depots[d].remove(rested[0])
                    depots[d].append((arr, bus))
                    bus = rested[0][1]
        else:
            # a bus comes out of the depot: this end's first, else one that had time to drive here
            dep = minute_up((lo + hi) // 2)
            if depots[d]:
                depots[d].sort()
                _, bus = depots[d].pop(0)
            else:
                other = [
                    (t, b)
                    for t, b in sorted(depots[1 - d])
                    if t + (run(d, dep)[-1] - dep) + 900 <= dep
                ]
                if other:
                    bus = other[0][1]
                    depots[1 - d].remove(other[0])
                else:
                    bus = len(bus_trips) + 1
                    bus_trips[bus] = []
        times = run(d, dep)
        bus_trips.setdefault(bus, []).append((d, dep, times))
        pools[1 - d].append((times[-1], bus))
        last_dep[d] = dep
    trips: list[_Trip] = []
    tag = "CN" if weekend else "T"
    for bus in sorted(bus_trips):
        block_id = f"{route.short_name}-{bus:02d}"
        for d, dep, times in bus_trips[bus]:
            hhmm = f"{dep // 3600:02d}{dep % 3600 // 60:02d}"
            trip_id = f"{route.short_name}-{tag}-{d}-{hhmm}"
            trips.append(_Trip(trip_id, patterns[d], service, block_id, times))
    trips.sort(key=lambda t: (t.pattern.direction, t.times[0]))
    return trips


@cache
def _fmt_time(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@dataclass(frozen=True)
class DemoNetworkStats:
    routes: int
    stops: int
    trips: int
    stop_times: int
    blocks: int
    shape_points: int


def demo_trips(seed: int = 18) -> tuple[_Network, list[_Trip]]:
    """The demo's network and every trip of both services (for tests and the generator)."""
    net = _build_network(seed)
    trips: list[_Trip] = []
    for route in ROUTES:
        pats = {p.direction: p for p in net.patterns if p.route is route}
        for weekend in (False, True):
            trips.extend(_schedule(route, pats, weekend))
    return net, trips


@lru_cache(maxsize=4)
def build_demo_gtfs(seed: int = 18) -> bytes:
    """The demo network as GTFS zip bytes, identical for the same seed."""
    was = gc.isenabled()
    gc.disable()  # a hundred thousand small rows: the collector would run again and again
    try:
        return _build_zip(seed)
    finally:
        if was:
            gc.enable()


def _build_zip(seed: int) -> bytes:
    net, trips = demo_trips(seed)
    files: dict[str, bytes] = {}
    files["agency.txt"] = _csv(
        [
            "agency_id",
            "agency_name",
            "agency_url",
            "agency_timezone",
            "agency_lang",
            "agency_phone",
        ],
        [[a, n, u, "Asia/Ho_Chi_Minh", "vi", p] for a, n, u, p in AGENCIES],
    )
    files["feed_info.txt"] = _csv(
        [
            "feed_publisher_name",
            "feed_publisher_url",
            "feed_lang",
            "feed_start_date",
            "feed_end_date",
            "feed_version",
        ],
        [
            [
                "Thudo — dữ liệu mẫu (không phải lịch chạy thật)",
                "https://thudo.example/transit/",
                "vi",
                FEED_START.strftime("%Y%m%d"),
                FEED_END.strftime("%Y%m%d"),
                f"demo-{seed}",
            ]
        ],
    )
    files["routes.txt"] = _csv(
        [
            "route_id",
            "agency_id",
            "route_short_name",
            "route_long_name",
            "route_desc",
            "route_type",
            "route_color",
            "route_text_color",
            "route_sort_order",
        ],
        [
            [
                r.short_name,
                r.agency_id,
                r.short_name,
                r.long_name,
                r.description,
                3,
                r.color,
                "FFFFFF",
                i + 1,
            ]
            for i, r in enumerate(ROUTES)
        ],
    )
    files["stops.txt"] = _csv(
        [
            "stop_id",
            "stop_code",
            "stop_name",
            "stop_desc",
            "stop_lat",
            "stop_lon",
            "location_type",
            "wheelchair_boarding",
        ],
        [
            [s.stop_id, s.code, s.name, s.desc, f"{s.lat:.6f}", f"{s.lon:.6f}", 0, s.wheelchair]
            for s in net.stops.values()
        ],
    )
    weekday = [1, 1, 1, 1, 1, 0, 0]
    weekend = [0, 0, 0, 0, 0, 1, 1]
    span = [FEED_START.strftime("%Y%m%d"), FEED_END.strftime("%Y%m%d")]
    files["calendar.txt"] = _csv(
        [
            "service_id",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "start_date",
            "end_date",
        ],
        [[SERVICE_WEEKDAY, *weekday, *span], [SERVICE_WEEKEND, *weekend, *span]],
    )
    cd_rows: list[list[object]] = []
    for day in HOLIDAYS:
        if day.weekday() < 5:
            cd_rows.append([SERVICE_WEEKDAY, day.strftime("%Y%m%d"), 2])
            cd_rows.append([SERVICE_WEEKEND, day.strftime("%Y%m%d"), 1])
    files["calendar_dates.txt"] = _csv(["service_id", "date", "exception_type"], cd_rows)
    shape_rows: list[list[object]] = []
    for p in net.patterns:
        for i, pt in enumerate(p.points):
            lat, lon = _latlon(pt)
            shape_rows.append([p.shape_id, f"{lat:.6f}", f"{lon:.6f}", i + 1])
    files["shapes.txt"] = _csv(
        ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"], shape_rows
    )
    trip_rows: list[list[object]] = []
    st_rows: list[list[object]] = []
    for t in trips:
        p = t.pattern
        trip_rows.append(
            [
                p.route.short_name,
                t.service_id,
                t.trip_id,
                p.headsign,
                p.direction,
                t.block_id,
                p.shape_id,
            ]
        )
        last = len(p.stops) - 1
        for i, ((stop_id, _d, _pos), s) in enumerate(zip(p.stops, t.times, strict=True)):
            tp = 1 if i in (0, last) else 0
            st_rows.append([t.trip_id, _fmt_time(s), _fmt_time(s), stop_id, i + 1, tp])
    files["trips.txt"] = _csv(
        [
            "route_id",
            "service_id",
            "trip_id",
            "trip_headsign",
            "direction_id",
            "block_id",
            "shape_id",
        ],
        trip_rows,
    )
    files["stop_times.txt"] = _csv(
        ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", "timepoint"],
        st_rows,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name], compresslevel=1)
    return out.getvalue()


def demo_stats(seed: int = 18) -> DemoNetworkStats:
    net, trips = demo_trips(seed)
    return DemoNetworkStats(
        routes=len(ROUTES),
        stops=len(net.stops),
        trips=len(trips),
        stop_times=sum(len(t.times) for t in trips),
        blocks=len({t.block_id for t in trips}),
        shape_points=sum(len(p.points) for p in net.patterns),
    )
