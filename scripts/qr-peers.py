#!/usr/bin/env python3
"""Decode the same images with vaxdesk, zxing-cpp and zbar in one run and
print one table: per folder, images, exact matches, wrong texts, misses and
median / p95 decode time (ms, decode only: images are loaded and converted
to grey before timing, for every decoder alike).

Folders: every ../shared/qr-samples/zxing/qrcode-* set, and the same images
scaled to 720 px high and padded to 1280x720 (the phone-frame size the speed
bar is about), written under target/qr-720p/.

Run through scripts/qr-peers, which installs the peers."""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image
from pyzbar import pyzbar

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "qr-samples" / "zxing"
VAXDESK = ROOT / "target" / "release" / "vaxdesk"


def labelled(folder):
    for img in sorted(folder.iterdir()):
        if img.suffix.lower() in (".png", ".jpg", ".jpeg") and img.with_suffix(".txt").exists():
            yield img, img.with_suffix(".txt").read_bytes()


def make_720p(src, dst):
    dst.mkdir(parents=True, exist_ok=True)
    for img, expected in labelled(src):
        grey = Image.open(img).convert("L")
        scale = 720 / grey.height
        scaled = grey.resize((max(1, round(grey.width * scale)), 720), Image.BILINEAR)
        if scaled.width > 1280:
            scaled = scaled.resize((1280, round(720 * 1280 / scaled.width)), Image.BILINEAR)
        canvas = Image.new("L", (1280, 720), int(np.median(np.asarray(grey))))
        canvas.paste(scaled, ((1280 - scaled.width) // 2, (720 - scaled.height) // 2))
        canvas.save(dst / (img.stem + ".png"))
        (dst / (img.stem + ".txt")).write_bytes(expected)


def zxing_texts(grey):
    return [r.text.encode("utf-8") for r in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)]


def zbar_texts(grey):
    out = []
    for r in pyzbar.decode(grey, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        out.append(r.data)
    return out


def score(folder, decoder):
    exact = wrong = missed = 0
    times = []
    for img, expected in labelled(folder):
        grey = np.asarray(Image.open(img).convert("L"))
        t = time.perf_counter()
        texts = decoder(grey)
        times.append((time.perf_counter() - t) * 1000)
        if expected in texts:
            exact += 1
        elif texts:
            wrong += 1
        else:
            missed += 1
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(len(times) * 0.95) - 1))] if times else 0
    return dict(images=len(times), exact=exact, wrong=wrong, missed=missed,
                median_ms=statistics.median(times) if times else 0, p95_ms=p95)


def vaxdesk(folders):
    out = subprocess.run([str(VAXDESK), "--json", "qr", "bench", *map(str, folders)],
                         check=True, capture_output=True, text=True).stdout
    return {Path(r["folder"]).resolve(): r for r in json.loads(out)}


def main():
    sets = sorted(p for p in SAMPLES.glob("qrcode-*") if p.is_dir())
    frames = [ROOT / "target" / "qr-720p" / s.name for s in sets]
    for s, f in zip(sets, frames):
        make_720p(s, f)
    folders = sets + frames
    ours = vaxdesk(folders)
    rows = []
    for f in folders:
        name = f.name if f in sets else f"{f.name} @1280x720"
        rows.append((name, "vaxdesk", ours[f.resolve()]))
        rows.append((name, "zxing-cpp", score(f, zxing_texts)))
        rows.append((name, "zbar", score(f, zbar_texts)))
    from importlib.metadata import version
    print(f"zxing-cpp {version('zxing-cpp')}, pyzbar {version('pyzbar')} (libzbar0), vaxdesk release build")
    print(f"| folder | decoder | images | exact | wrong | missed | median ms | p95 ms |")
    print(f"|---|---|---:|---:|---:|---:|---:|---:|")
    totals = {}
    for name, dec, r in rows:
        print(f"| {name} | {dec} | {r['images']} | {r['exact']} | {r['wrong']} | {r['missed']} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} |")
        t = totals.setdefault(dec, [0, 0, 0, 0])
        for i, k in enumerate(("images", "exact", "wrong", "missed")):
            t[i] += r[k]
    for dec, t in totals.items():
        print(f"| all | {dec} | {t[0]} | {t[1]} | {t[2]} | {t[3]} | | |")
    json.dump({"rows": [{**r, "folder": n, "decoder": d} for n, d, r in rows]},
              open(ROOT / "target" / "qr-peers.json", "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
