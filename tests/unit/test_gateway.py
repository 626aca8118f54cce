"""The gateway's pure parts: document limits, keys, canaries, routing rules, organic blend, job store, outputs."""

from __future__ import annotations

import asyncio
import io
import random
import subprocess
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from ocr_subnet.chain.port import AxonInfo, NeuronInfo
from ocr_subnet.gateway.canary import make_canary, split_answer, stitch
from ocr_subnet.gateway.documents import DocumentError, Limits, load
from ocr_subnet.gateway.jobs import JobsFull, JobStore
from ocr_subnet.gateway.keys import Access, KeyFile, Refused, add_key, anonymous_entry, hash_key, load_keys
from ocr_subnet.gateway.metrics import GatewayMetrics
from ocr_subnet.gateway.organic import OrganicScore, blended_reward
from ocr_subnet.gateway.output import OcrAnswer, page_answer, to_hocr, to_searchable_pdf, to_text
from ocr_subnet.gateway.router import Router
from ocr_subnet.gateway.rules import RoutingConfig, agreement, canary_reward, passes, rank_miners
from ocr_subnet.sections import Font, Section, plain_text
from ocr_subnet.validator.query import Outcome, QueryResult
from PIL import Image
from reportlab.pdfgen import canvas

from tests.support.tools import assert_promtool_accepts_metrics

FONT = Font(family="Helvetica", size=10.0)


def section(text: str, box: tuple[float, float, float, float]) -> Section:
    return Section(text=text, position=box, font=FONT)


def blank_pdf(pages: int, size: tuple[float, float] = (612, 792)) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(*size)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def png(width: int, height: int, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), 255 if mode == "L" else 1).save(out, format="PNG")
    return out.getvalue()


# documents


def test_a_pdf_is_rasterized_page_by_page_at_the_configured_density() -> None:
    document = load(blank_pdf(2), "application/pdf", Limits(dpi=100))
    assert document.kind == "pdf"
    assert [page.size for page in document.pages] == [(850, 1100)] * 2
    assert document.page_sizes_pt == ((612.0, 792.0), (612.0, 792.0))


@pytest.mark.parametrize(
    ("data", "kind", "limits", "status", "says"),
    [
        (blank_pdf(101), "application/pdf", Limits(), 413, "101 pages, over the 100-page limit"),
        (blank_pdf(1, (14_400, 14_400)), "application/pdf", Limits(), 413, "pixel page limit"),
        (png(100, 100), "application/pdf", Limits(), 415, "its bytes are not a PDF"),
        (png(6000, 5000, "1"), "image/png", Limits(), 413, "6000x5000 pixels"),
        (b"x" * 2048, "image/png", Limits(max_bytes=1024), 413, "over the 1024-byte limit"),
        (b"", "image/png", Limits(), 400, "empty"),
        (b"hello", "text/plain", Limits(), 415, "not a readable"),
        (b"%PDF-1.4 nonsense", "application/pdf", Limits(), 400, "cannot be read"),
    ],
)
def test_bad_documents_are_refused_with_a_clear_status(
    data: bytes, kind: str, limits: Limits, status: int, says: str
) -> None:
    with pytest.raises(DocumentError) as refused:
        load(data, kind, limits)
    assert refused.value.status == status
    assert says in refused.value.detail


def test_an_encrypted_pdf_is_refused() -> None:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, encrypt="secret")
    pdf.drawString(72, 720, "confidential")
    pdf.showPage()
    pdf.save()
    with pytest.raises(DocumentError) as refused:
        load(out.getvalue(), "application/pdf", Limits())
    assert refused.value.status == 422 and "encrypted" in refused.value.detail


def test_a_pdf_is_recognized_by_its_bytes_whatever_its_claimed_type() -> None:
    assert load(blank_pdf(1), "application/octet-stream", Limits()).kind == "pdf"


def test_a_tiff_is_accepted() -> None:
    out = io.BytesIO()
    Image.new("L", (40, 30), 255).save(out, format="TIFF")
    assert load(out.getvalue(), "image/tiff", Limits()).pages[0].size == (40, 30)


# keys


def test_keys_are_stored_hashed_and_identify_their_owner(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = add_key(path, "alice")
    assert key not in path.read_text() and hash_key(key) in path.read_text()
    access = Access(load_keys(path))
    assert access.identify(f"Bearer {key}").name == "alice"
    for header, says in ((None, "missing"), ("Bearer nope", "unknown"), (f"Basic {key}", "malformed")):
        with pytest.raises(Refused) as refused:
            access.identify(header)
        assert refused.value.status == 401 and says in refused.value.detail


def test_a_malformed_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"name": "x", "sha256": "short"}]}')
    with pytest.raises(ValueError, match=r"keys\.json is malformed"):
        load_keys(path)


def test_anonymous_callers_only_when_enabled() -> None:
    assert Access(KeyFile(), anonymous_entry(10, 5)).identify(None).name == "anonymous"
    with pytest.raises(Refused):
        Access(KeyFile()).identify(None)


def test_rate_limit_and_quota_per_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    add_key(path, "a", rate_per_minute=2, quota_pages=5)
    access = Access(load_keys(path))
    entry = load_keys(path).keys[0]
    access.admit(entry, 1, now=0.0)
    access.admit(entry, 1, now=0.0)
    with pytest.raises(Refused) as limited:
        access.admit(entry, 1, now=0.0)
    assert limited.value.status == 429 and "2 requests per minute" in limited.value.detail
    access.admit(entry, 2, now=30.0)  # one token back after half a minute
    with pytest.raises(Refused) as over:
        access.admit(entry, 2, now=120.0)
    assert "quota of 5 pages: 4 used" in over.value.detail
    assert access.pages_used["a"] == 4  # a refused request takes nothing


# canary


def test_the_canary_band_holds_known_strings_and_is_removed_from_the_answer() -> None:
    canary = make_canary(11, 800)
    assert len(canary.sections) >= 4
    assert all(s.position[3] <= canary.height for s in canary.sections)
    page = Image.new("L", (800, 1000), 255)
    stitched = stitch(canary, page)
    assert stitched.size == (800, 1000 + canary.height)
    user = section("hello", (10, canary.height + 20, 60, canary.height + 40))
    band, rest = split_answer(canary, [*canary.sections, user])
    assert band == list(canary.sections)
    assert rest == [section("hello", (10, 20, 60, 40))]
    reward = canary_reward(canary.sections, band, 0.5, 10.0)
    assert reward.total == pytest.approx(1.0)
    assert passes(reward, RoutingConfig())
    assert not passes(canary_reward(canary.sections, [section("lorem", (0, 0, 50, 20))], 0.5, 10.0), RoutingConfig())


def test_canaries_differ_from_page_to_page() -> None:
    assert make_canary(1, 800).sections != make_canary(2, 800).sections


# routing rules


def neuron(uid: int) -> NeuronInfo:
    axon = AxonInfo(ip="127.0.0.1", port=9000 + uid)
    return NeuronInfo(uid, f"hk{uid}", "ck", 0.0, False, axon, 0)


def test_ranking_hedges_over_the_top_k_and_falls_back_by_ema() -> None:
    miners = [neuron(i) for i in range(6)]
    emas = {f"hk{i}": i / 10 for i in range(6)}
    config = RoutingConfig(top_k=3, explore=0.0, hedge=2)
    for seed in range(20):
        ranked = rank_miners(miners, emas, config, random.Random(seed))
        assert sorted(n.uid for n in ranked) == list(range(6))
        assert {n.uid for n in ranked[:2]} <= {3, 4, 5}
        assert [n.uid for n in ranked[2:]] == sorted((n.uid for n in ranked[2:]), reverse=True)


def test_exploration_sometimes_sends_a_page_outside_the_top_k() -> None:
    miners = [neuron(i) for i in range(6)]
    emas = {f"hk{i}": i / 10 for i in range(6)}
    config = RoutingConfig(top_k=2, explore=0.5, hedge=2)
    picked = {n.uid for seed in range(50) for n in rank_miners(miners, emas, config, random.Random(seed))[:2]}
    assert picked - {4, 5}


def test_agreement_is_one_for_identical_readings_and_low_for_different_ones() -> None:
    reading = [section("alpha", (0, 0, 50, 10)), section("beta", (60, 0, 100, 10))]
    assert agreement(reading, reading) == pytest.approx(1.0)
    assert agreement(reading, [section("zzz", (300, 300, 320, 310))]) < 0.1


def test_organic_blend_formula() -> None:
    assert blended_reward(0.8, None, 0.5) == 0.8
    assert blended_reward(0.8, OrganicScore(ema=0.2, pages=3), 0.25) == pytest.approx(0.75 * 0.8 + 0.25 * 0.2)


def test_plain_text_follows_reading_order() -> None:
    sections = [
        section("world", (60, 0, 110, 10)),
        section("second", (0, 20, 50, 30)),
        section("hello", (0, 1, 50, 11)),
    ]
    assert plain_text(sections) == "hello world\nsecond"


# jobs


def test_the_job_store_is_bounded_and_private_to_its_key() -> None:
    store = JobStore(capacity=2, retention_s=10.0)
    first = store.create("a", 1)
    second = store.create("a", 1)
    with pytest.raises(JobsFull):
        store.create("a", 1)
    store.finish(first, result={"pages": []})
    third = store.create("b", 1)  # the finished job makes room
    assert store.get(first.id, "a") is None
    assert store.get(third.id, "a") is None and store.get(third.id, "b") is third
    store.finish(second, result={})
    store.expire(now=second.finished + 11.0)
    assert store.get(second.id, "a") is None


# outputs


def test_text_hocr_and_searchable_pdf_outputs(tmp_path: Path) -> None:
    document = load(blank_pdf(1), "application/pdf", Limits(dpi=150))
    words = [section("Searchable", (150, 150, 450, 190)), section("layer", (480, 150, 600, 190))]
    answer = OcrAnswer(pages=[page_answer(1, document.pages[0], words, 0.9, 3, True)])
    assert to_text(answer) == "Searchable layer\n"
    hocr = to_hocr(answer)
    assert "ocrx_word" in hocr and "x_wconf 90" in hocr
    out = tmp_path / "out.pdf"
    out.write_bytes(to_searchable_pdf(document, answer, 150))
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert text.split() == ["Searchable", "layer"]


def test_metrics_pass_promtool_with_per_key_per_stage_and_per_miner_series() -> None:
    metrics = GatewayMetrics()
    metrics.requests.labels("alice", "ok").inc()
    metrics.pages.labels("alice", "verified").inc(3)
    for stage in ("queue", "miners", "verification"):
        metrics.stage.labels(stage).observe(0.2)
    metrics.verifications.labels("5Miner", "passed").inc()
    metrics.agreement.observe(0.9)
    metrics.organic_ema.labels("5Miner").set(0.4)
    exposition = metrics.exposition()
    assert_promtool_accepts_metrics(exposition)
    text = exposition.decode()
    assert 'ocr_subnet_gateway_pages_total{key="alice",outcome="verified"} 3.0' in text
    assert 'ocr_subnet_gateway_stage_duration_seconds_count{stage="verification"} 1.0' in text


def test_a_page_every_miner_failed_goes_out_again_under_a_fresh_canary() -> None:
    """Honest miners running one engine fail a hard band together; the page is not lost to that band."""
    bodies: list[bytes] = []
    canaries = {}

    async def ask(_client, _wallet, miner: NeuronInfo, body: bytes, _deadline: float) -> QueryResult:
        if body not in bodies:
            bodies.append(body)
        known = canaries[body].sections if bodies.index(body) > 0 else ()  # every miner misreads the first band
        return QueryResult(miner.uid, miner.hotkey, Outcome.OK, 0.1, (*known, section("user text", (0, 900, 80, 910))))

    verdicts: list = []
    router = Router(None, None, RoutingConfig(hedge=2, attempts=3), 8.0, verdicts.append, print, ask=ask)  # type: ignore[arg-type]
    prepare = router.prepare

    def recording(page: Image.Image):
        canary, body = prepare(page)
        canaries[body] = canary
        return canary, body

    router.prepare = recording  # type: ignore[method-assign]
    page = Image.new("L", (600, 800), 255)
    result = asyncio.run(router.read_page(page, [neuron(i) for i in range(3)], {}))
    assert result.verified and len(bodies) == 2
    passed = [v.passed for v in result.verdicts]
    assert passed[:3] == [False, False, False] and passed[3:] and all(passed[3:])  # round two: every miner again
    assert [s.text for s in result.sections] == ["user text"]

    once = Router(None, None, RoutingConfig(attempts=3, canary_rounds=1), 8.0, print, print, ask=ask)  # type: ignore[arg-type]
    once.prepare = recording  # type: ignore[method-assign]
    bodies.clear()
    failed = asyncio.run(once.read_page(page, [neuron(i) for i in range(3)], {}))
    assert not failed.verified and len(failed.verdicts) == 3
    assert [s.text for s in failed.sections] == ["user text"]  # the best failing answer, flagged


def test_a_page_no_miner_answered_goes_out_again_after_a_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every miner busy with a burst (timeouts, refusals) loses the user no page: a later round is answered."""
    events: list[object] = []  # miners' uids as they are asked, ("pause", seconds) for each pause
    rounds: list[bytes] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(delay: float, *args: object) -> None:
        events.append(("pause", delay))
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recorded_sleep)

    async def ask(_client, _wallet, miner: NeuronInfo, body: bytes, deadline: float) -> QueryResult:
        events.append(miner.uid)
        if body not in rounds:
            rounds.append(body)
        if rounds.index(body) == 0:
            return QueryResult(miner.uid, miner.hotkey, Outcome.TIMEOUT, deadline)
        return QueryResult(miner.uid, miner.hotkey, Outcome.OK, 0.1, (section("user text", (0, 900, 80, 910)),))

    config = RoutingConfig(attempts=3, busy_backoff_s=0.2)
    router = Router(None, None, config, 8.0, print, print, ask=ask, canaries=False)  # type: ignore[arg-type]
    result = asyncio.run(router.read_page(Image.new("L", (600, 800), 255), [neuron(i) for i in range(3)], {}))
    assert result.verified and [s.text for s in result.sections] == ["user text"] and len(rounds) == 2
    assert sorted(events[:3]) == [0, 1, 2] and events[3] == ("pause", 0.2)  # the pause before the second round
    assert all(isinstance(e, int) for e in events[4:])

    events.clear()

    async def down(_client, _wallet, miner: NeuronInfo, _body: bytes, deadline: float) -> QueryResult:
        events.append(miner.uid)
        return QueryResult(miner.uid, miner.hotkey, Outcome.TIMEOUT, deadline)

    router = Router(None, None, config, 8.0, print, print, ask=down)  # type: ignore[arg-type]
    result = asyncio.run(router.read_page(Image.new("L", (600, 800), 255), [neuron(i) for i in range(3)], {}))
    assert not result.verified and result.miner is None and result.sections == ()
    asked = [e for e in events if isinstance(e, int)]
    assert sorted(asked) == [0, 0, 1, 1, 2, 2]  # canary_rounds (2) rounds, then the page fails
    assert events[3] == ("pause", 0.2) and events.count(("pause", 0.2)) == 1  # between the rounds, none after
