"""A dishonest miner, run as its own process: honest (tesseract) on challenge-shaped pages, garbage on
pages taller than a US-letter invoice. That is how it would tell the gateway's organic pages (a canary
band above the page) apart, were the validator not stitching the same band above a share of its challenges.

    python -m tests.support.fingerprinting_miner --network URL --wallet-path DIR --wallet-name NAME --port N
"""

from __future__ import annotations

import argparse

from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.chain import connect
from ocr_subnet.logs import configure_logging
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.miner.run import build_server
from ocr_subnet.sections import Font, Section
from ocr_subnet.wallets import local_wallet
from PIL import Image

LETTER_RATIO = 792 / 612  # the challenge generator's page
GARBAGE = Section(text="lorem ipsum", position=(0.0, 0.0, 50.0, 20.0), font=Font(family="Courier", size=10.0))


class Fingerprinting:
    name = "fingerprinting"

    def __init__(self) -> None:
        self.honest = TesseractBackend()

    def recognize(self, image: Image.Image) -> list[Section]:
        if image.height / image.width > LETTER_RATIO * 1.04:
            return [GARBAGE]
        return self.honest.recognize(image)

    def close(self) -> None:
        self.honest.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--network", "--wallet-path", "--wallet-name"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    configure_logging("INFO")
    config = MinerConfig(
        network=args.network,
        netuid=1,
        wallet_name=args.wallet_name,
        wallet_path=args.wallet_path,
        host="127.0.0.1",
        port=args.port,
        backend="tesseract",
        metagraph_refresh_s=2.0,
    )
    wallet = local_wallet(args.wallet_name, "default", args.wallet_path)
    build_server(config, connect(args.network, 1), Fingerprinting(), wallet).run()


if __name__ == "__main__":
    main()
