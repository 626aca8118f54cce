"""The organic gateway on the local subnet (`ocr-subnet local up --gateway`), end to end, with real processes.

The document is a Debian documentation PDF no one here wrote (libtasn1-doc), rasterized to a scan-like
image-only PDF; its own `pdftotext` output is the ground truth. A third miner, a real process that answers
garbage on pages it fingerprints as organic, is added to the subnet: it must lose organic and validator EMA
while the user still gets correct text.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.gateway.keys import add_key
from ocr_subnet.local.up import VALIDATOR_WALLET, ocr_subnet_command
from ocr_subnet.validator.state import state_from_json
from ocr_subnet.wallets import local_wallet
from PIL import Image
from rapidfuzz.distance import Levenshtein
from reportlab.pdfgen import canvas

from tests.support.documents import page_truth, scan_like_pdf
from tests.support.local_gateway import chain_url_of, start_local_gateway
from tests.support.poll import wait_until
from tests.support.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAGES = (3, 4, 5)  # 0-based: body text pages of the manual
BOUND_S = 240.0
MIN_SIMILARITY = 0.85  # normalized Levenshtein similarity of the page text to pdftotext's


@dataclass(frozen=True)
class Subnet:
    url: str
    api_key: str
    run_dir: Path
    home: Path
    chain_url: str
    scan: bytes  # the scan-like image PDF
    truth: list[str]  # pdftotext of each original page


def words(text: str) -> str:
    return " ".join(re.findall(r"\S+", text))


def similarity(a: str, b: str) -> float:
    return Levenshtein.normalized_similarity(words(a), words(b))


@pytest.fixture(scope="module")
def subnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Subnet]:
    home = tmp_path_factory.mktemp("home")
    launcher = start_local_gateway(home, "--json", "--organic-weight", "0.8", "--round-interval", "2")
    try:
        found = wait_until(
            lambda: launcher.poll() is not None or list((home / "runs").glob("*/gateway.json")), "gateway.json", BOUND_S
        )
        assert launcher.poll() is None, launcher.communicate()[1][-3000:]
        (path,) = found
        contract = json.loads(path.read_text())
        assert set(contract) == {"url", "api_key"}
        run_dir = path.parent
        yield Subnet(
            contract["url"],
            contract["api_key"],
            run_dir,
            home,
            chain_url_of(run_dir),
            scan_like_pdf(PAGES),
            [page_truth(p) for p in PAGES],
        )
    finally:
        launcher.terminate()
        out, err = launcher.communicate(timeout=BOUND_S)
    assert launcher.returncode == 0, err[-3000:]
    assert json.loads(out)["gateway"] == contract


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_pages_match(pages: list[dict], truth: list[str]) -> None:
    assert len(pages) == len(truth)
    for page, expected in zip(pages, truth, strict=True):
        assert page["verified"], page["number"]
        assert similarity(page["text"], expected) >= MIN_SIMILARITY, (page["number"], page["text"][:300])


def test_curl_raw_pdf_body_returns_the_pages_text(subnet: Subnet, tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(subnet.scan)
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail-with-body",
            "-H",
            f"Authorization: Bearer {subnet.api_key}",
            "-H",
            "Content-Type: application/pdf",
            "--data-binary",
            f"@{scan}",
            f"{subnet.url}/v1/ocr",
        ],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert_pages_match(answer["pages"], subnet.truth)
    first = answer["pages"][0]
    assert first["sections"] and {"text", "position", "font"} <= set(first["sections"][0])
    assert all(0.0 < word["confidence"] <= 1.0 for word in first["words"])


def test_python_client_multipart_gets_a_searchable_pdf(subnet: Subnet, tmp_path: Path) -> None:
    with httpx.Client(timeout=BOUND_S, trust_env=False) as client:
        response = client.post(
            f"{subnet.url}/v1/ocr",
            params={"format": "pdf"},
            headers=bearer(subnet.api_key),
            files={"file": ("scan.pdf", subnet.scan, "application/pdf")},
        )
    assert response.status_code == 200, response.text
    out = tmp_path / "searchable.pdf"
    out.write_bytes(response.content)
    for number, expected in enumerate(subnet.truth, start=1):
        text = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(out), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert similarity(text, expected) >= MIN_SIMILARITY, text[:300]
    assert len(pdfium.PdfDocument(response.content)) == len(PAGES)


def test_text_and_hocr_formats(subnet: Subnet) -> None:
    page = scan_like_pdf((3,))
    with httpx.Client(timeout=BOUND_S, trust_env=False) as client:
        text = client.post(
            f"{subnet.url}/v1/ocr?format=text",
            headers=bearer(subnet.api_key) | {"Content-Type": "application/pdf"},
            content=page,
        )
        hocr = client.post(
            f"{subnet.url}/v1/ocr?format=hocr",
            headers=bearer(subnet.api_key) | {"Content-Type": "application/pdf"},
            content=page,
        )
    assert text.status_code == 200 and similarity(text.text, subnet.truth[0]) >= MIN_SIMILARITY
    assert hocr.status_code == 200 and 'class="ocrx_word"' in hocr.text and "x_wconf" in hocr.text


def test_async_job_reports_per_page_progress_and_only_to_its_key(subnet: Subnet) -> None:
    with httpx.Client(timeout=BOUND_S, trust_env=False, base_url=subnet.url) as client:
        created = client.post(
            "/v1/jobs", headers=bearer(subnet.api_key) | {"Content-Type": "application/pdf"}, content=subnet.scan
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        seen: list[list[str]] = []

        def finished() -> dict | None:
            view = client.get(f"/v1/jobs/{job_id}", headers=bearer(subnet.api_key)).json()
            seen.append(view["progress"])
            return view if view["status"] != "running" else None

        view = wait_until(finished, "the job to finish", BOUND_S)
        assert view["status"] == "done" and view["done_pages"] == len(PAGES)
        assert view["progress"] == ["verified"] * len(PAGES)
        assert_pages_match(view["result"]["pages"], subnet.truth)
        stranger = client.get(f"/v1/jobs/{job_id}", headers=bearer("ocr_not-a-key"))
        assert stranger.status_code == 401
        missing = client.get("/v1/jobs/nope", headers=bearer(subnet.api_key))
        assert missing.status_code == 404


def huge_page_count_pdf(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(612, 792)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def huge_page_size_pdf() -> bytes:
    document = pdfium.PdfDocument.new()
    document.new_page(14_400, 14_400)  # 200 x 200 inches: 900 megapixels at 150 dpi
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, encrypt="secret")
    pdf.drawString(72, 720, "confidential")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def oversized_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (6000, 5000), 1).save(out, format="PNG")  # 30 megapixels, a few kilobytes
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("L", (64, 64), 255).save(out, format="PNG")
    return out.getvalue()


BAD_INPUTS = [
    ("pdf bomb: page count", "application/pdf", "bomb.pdf", huge_page_count_pdf(5000), 413, "pages"),
    ("pdf bomb: page size", "application/pdf", "big.pdf", huge_page_size_pdf(), 413, "pixel page limit"),
    ("encrypted pdf", "application/pdf", "locked.pdf", encrypted_pdf(), 422, "encrypted"),
    ("non-pdf named .pdf", "application/pdf", "fake.pdf", png_bytes(), 415, "not a PDF"),
    ("oversized image", "image/png", "huge.png", oversized_png(), 413, "pixel page limit"),
    ("not a document", "text/plain", "notes.txt", b"hello, world", 415, "not a readable"),
]


@pytest.mark.parametrize(("case", "kind", "name", "body", "status", "says"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_clear_error_and_the_server_stays_up(
    subnet: Subnet, case: str, kind: str, name: str, body: bytes, status: int, says: str
) -> None:
    with httpx.Client(timeout=BOUND_S, trust_env=False, base_url=subnet.url) as client:
        raw = client.post("/v1/ocr", headers=bearer(subnet.api_key) | {"Content-Type": kind}, content=body)
        multipart = client.post("/v1/ocr", headers=bearer(subnet.api_key), files={"file": (name, body, kind)})
        for response in (raw, multipart):
            assert response.status_code == status, (case, response.text)
            assert says in response.json()["detail"], response.json()
        assert client.get("/healthz").json()["status"] == "ok"


def test_keys_are_required_and_quota_is_enforced(subnet: Subnet, tmp_path: Path) -> None:
    page = png_bytes()
    with httpx.Client(timeout=BOUND_S, trust_env=False, base_url=subnet.url) as client:
        none = client.post("/v1/ocr", headers={"Content-Type": "image/png"}, content=page)
        wrong = client.post("/v1/ocr", headers=bearer("ocr_wrong") | {"Content-Type": "image/png"}, content=page)
    assert none.status_code == 401 and "missing API key" in none.json()["detail"]
    assert wrong.status_code == 401 and "unknown API key" in wrong.json()["detail"]
    keys = tmp_path / "keys.json"
    key = add_key(keys, "tiny", rate_per_minute=60, quota_pages=1)
    assert key not in keys.read_text()  # only the hash is stored
    port = free_port()
    with (tmp_path / "gateway.log").open("wb") as log:
        gateway = subprocess.Popen(
            [
                *ocr_subnet_command(),
                "gateway",
                "serve",
                "--network",
                subnet.chain_url,
                "--netuid",
                "1",
                "--wallet-path",
                str(subnet.home / "wallets"),
                "--wallet-name",
                VALIDATOR_WALLET,
                "--port",
                str(port),
                "--api-keys",
                str(keys),
                "--allowed-axon-network",
                "127.0.0.0/8",
            ],
            stderr=log,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=BOUND_S, trust_env=False, base_url=url) as client:
            wait_until(lambda: _healthy(client), "the second gateway", BOUND_S)
            first = client.post("/v1/ocr", headers=bearer(key) | {"Content-Type": "image/png"}, content=page)
            second = client.post("/v1/ocr", headers=bearer(key) | {"Content-Type": "image/png"}, content=page)
            assert first.status_code == 200, first.text
            assert second.status_code == 429 and "quota of 1 pages" in second.json()["detail"]
            metrics = client.get("/metrics").text
            assert 'ocr_subnet_gateway_requests_total{key="tiny",outcome="rate_limited"} 1.0' in metrics
            assert 'ocr_subnet_gateway_requests_total{key="tiny",outcome="ok"} 1.0' in metrics
    finally:
        gateway.terminate()
        gateway.wait(timeout=60)


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_miner_that_fingerprints_organic_pages_loses_weight_and_users_still_get_text(
    subnet: Subnet, tmp_path: Path
) -> None:
    wallets = subnet.home / "wallets"
    wallet = local_wallet("fingerprinting-miner", "default", wallets)
    client = LocalChainClient(subnet.chain_url, 1)
    try:
        client.register(wallet, 0.0)
    finally:
        client.close()
    hotkey = wallet.hotkey.ss58_address
    port = free_port()
    with (tmp_path / "fingerprinting.log").open("wb") as log:
        cheat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.fingerprinting_miner",
                "--network",
                subnet.chain_url,
                "--wallet-path",
                str(wallets),
                "--wallet-name",
                "fingerprinting-miner",
                "--port",
                str(port),
            ],
            stderr=log,
            cwd=Path(__file__).resolve().parents[2],
        )
    organic_path = subnet.run_dir / "validator" / "organic.json"
    state_path = subnet.run_dir / "validator" / "state.json"
    try:
        with httpx.Client(timeout=BOUND_S, trust_env=False, base_url=subnet.url) as http:
            wait_until(lambda: http.get("/healthz").json()["miners"] == 3, "the gateway to see 3 miners", BOUND_S)

            def cheat_scored() -> bool:
                response = http.post(
                    "/v1/ocr", headers=bearer(subnet.api_key) | {"Content-Type": "application/pdf"}, content=subnet.scan
                )
                assert response.status_code == 200, response.text
                assert_pages_match(response.json()["pages"], subnet.truth)  # the hedge keeps the user's text right
                scores = json.loads(organic_path.read_text())["scores"]
                return hotkey in scores and scores[hotkey]["pages"] >= 3

            wait_until(cheat_scored, "organic pages to reach the fingerprinting miner", BOUND_S, interval_s=0)
        scores = json.loads(organic_path.read_text())["scores"]
        honest = [s["ema"] for k, s in scores.items() if k != hotkey]
        assert scores[hotkey]["ema"] < 0.05 < min(honest), scores

        def validator_sees_it() -> bool:
            state = state_from_json(state_path.read_bytes())
            cheat_score = state.scores.get(hotkey)
            others = [s.ema for k, s in state.scores.items() if k != hotkey]
            # From 0, 5 rounds at alpha 0.3 reach 83% of a miner's level: an honest newcomer would be past half
            # the others' EMA by then; the organic weight (0.8) holds the fingerprinting one far below it.
            return cheat_score is not None and cheat_score.rounds >= 5 and cheat_score.ema < 0.5 * min(others)

        wait_until(
            validator_sees_it, "the validator's EMA of the fingerprinting miner to stay below the others", BOUND_S
        )
    finally:
        cheat.terminate()
        cheat.wait(timeout=60)
