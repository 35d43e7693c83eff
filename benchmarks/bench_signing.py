"""Signing and verification: one-page results signed per second at PAdES B-T (and B-LTA) with
the city's own time-stamping authority, verified per second, beside the raw cost of the same
hash and signature on this machine. One process, so the figures are per core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from harness import ROOT, BenchError, Options, Section

N_SIGN = int(os.environ.get("BENCH_SIGN_N", "40"))

SCRIPT = r"""
import json, os, time, hashlib
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from thudo.accounts.models import Agency
from thudo.core.models import AdminUnit
from thudo.documents import pki
from thudo.documents.rendering import render_document
from thudo.documents.signing import sign_pdf
from thudo.documents.verification import verify_pdf

N = int(os.environ["N"])
agency = Agency.objects.create(
    code="HN-00070", name="Ủy ban nhân dân Phường Hoàn Kiếm", kind="commune_committee",
    admin_unit=AdminUnit.objects.get(code="00070"),
)
pki.pki_init(agencies=[agency])
pdf = render_document("result", json.loads(os.environ["CONTEXT"]))
out = {"pdf_bytes": len(pdf)}

def timed(fn, n):
    fn()
    t = time.perf_counter()
    for _ in range(n):
        r = fn()
    return n / (time.perf_counter() - t), r

for level in ("B-T", "B-LTA"):
    rate, signed = timed(lambda: sign_pdf(
        pdf=pdf, agency=agency, signer_label="bench",
        verify_url="http://127.0.0.1:8000/verify/x/", level=level), N)
    out[f"sign_{level}"] = rate
    vrate, report = timed(lambda: verify_pdf(signed), N)
    assert report.verdict == "valid", report.as_dict()
    out[f"verify_{level}"] = vrate

out["hash_per_s"], _ = timed(lambda: hashlib.sha256(pdf).digest(), 2000)
ecdsa = ec.generate_private_key(ec.SECP256R1())
out["ecdsa_p256_per_s"], _ = timed(
    lambda: ecdsa.sign(b"x" * 32, ec.ECDSA(hashes.SHA256())), 2000)
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
out["rsa2048_per_s"], _ = timed(
    lambda: rsa_key.sign(b"x" * 32, padding.PKCS1v15(), hashes.SHA256()), 500)
print("RESULT " + json.dumps(out))
"""

CONTEXT = {
    "agency": "Ủy ban nhân dân Phường Hoàn Kiếm",
    "place": "Hà Nội",
    "number": "123/GXN-UBND",
    "date": "2026-11-23",
    "title": "GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN",
    "issued_to": "Nguyễn Thị Hồng Nhung",
    "fields": [
        ["Số định danh cá nhân", "001190012345"],
        ["Tình trạng hôn nhân", "Chưa đăng ký kết hôn"],
    ],
    "signer_title": "CHỦ TỊCH",
    "signer": "Lê Văn Hùng",
}


def run(options: Options) -> list[Section]:
    with tempfile.TemporaryDirectory(prefix="thudo-bench-sign-") as var:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "THUDO_VAR_DIR": var,
            "DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
            "N": str(N_SIGN),
            "CONTEXT": json.dumps(CONTEXT),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("CELERY_BROKER_URL", None)
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise BenchError(f"signing benchmark failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    r = json.loads(lines[-1].removeprefix("RESULT "))
    section = Section(
        title=f"Signing — one-page result ({r['pdf_bytes']:,} bytes), city TSA in-process, "
        f"{N_SIGN} rounds, one process (per core)",
        columns=["operation", "per second", "vs goal"],
    )
    section.rows += [
        ["sign PAdES B-T", round(r["sign_B-T"], 1), f"{r['sign_B-T'] / 30:.2f}x of 30/s"],
        ["verify B-T", round(r["verify_B-T"], 1), f"{r['verify_B-T'] / 50:.2f}x of 50/s"],
        ["sign PAdES B-LTA", round(r["sign_B-LTA"], 1), ""],
        ["verify B-LTA", round(r["verify_B-LTA"], 1), ""],
        ["raw SHA-256 of the PDF", round(r["hash_per_s"]), ""],
        ["raw ECDSA P-256 signature", round(r["ecdsa_p256_per_s"]), ""],
        ["raw RSA-2048 signature", round(r["rsa2048_per_s"]), ""],
    ]
    raw = min(r["ecdsa_p256_per_s"], r["rsa2048_per_s"])
    section.notes.append(
        f"PAdES B-T signing costs {raw / r['sign_B-T']:.0f}x the slower raw signature "
        f"(three signatures per document: the signer's, the TSA's, plus PDF assembly)."
    )
    return [section]
