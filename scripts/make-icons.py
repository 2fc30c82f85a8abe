#!/usr/bin/env python3
"""Draws the app icons (web/static/icons/*.png) from the favicon's shapes: a blue
rounded square with three white bars. Pure Python (zlib), 4x4 supersampling, so the
output is the same on every machine. Run after changing the logo:

    python3 scripts/make-icons.py
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web", "static", "icons")
BLUE = (0x1F, 0x4F, 0xD8)
WHITE = (0xFF, 0xFF, 0xFF)
# The favicon's bars in its 32-unit box: x, y, width, height.
BARS = [(7, 16, 4, 9), (14, 9, 4, 16), (21, 13, 4, 12)]


def inside_rounded(x, y, size, radius):
    """Whether (x, y) in a 32-unit box lies in the square of side `size` with corner `radius`."""
    if not (0 <= x <= size and 0 <= y <= size):
        return False
    cx = min(max(x, radius), size - radius)
    cy = min(max(y, radius), size - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def draw(pixels, rounded, scale):
    """RGBA rows. `rounded`: transparent corners (purpose "any"); else a full square
    (purpose "maskable", where the launcher cuts its own shape). `scale`: the bars'
    size around the centre (maskable icons keep their content in the middle 80%)."""
    samples = 4
    rows = []
    for py in range(pixels):
        row = bytearray()
        for px in range(pixels):
            blue = white = 0
            for sy in range(samples):
                for sx in range(samples):
                    x = (px + (sx + 0.5) / samples) * 32 / pixels
                    y = (py + (sy + 0.5) / samples) * 32 / pixels
                    if rounded and not inside_rounded(x, y, 32, 6):
                        continue
                    bx, by = 16 + (x - 16) / scale, 16 + (y - 16) / scale
                    if any(x0 <= bx < x0 + w and y0 <= by < y0 + h for x0, y0, w, h in BARS):
                        white += 1
                    else:
                        blue += 1
            n = samples * samples
            covered = blue + white
            if covered == 0:
                row += bytes((0, 0, 0, 0))
                continue
            colour = [round((BLUE[i] * blue + WHITE[i] * white) / covered) for i in range(3)]
            row += bytes(colour + [round(255 * covered / n)])
        rows.append(bytes(row))
    return rows


def png(path, pixels, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + row for row in rows)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", pixels, pixels, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


os.makedirs(OUT, exist_ok=True)
for name, pixels, rounded, scale in [("icon-192.png", 192, True, 1.0), ("icon-512.png", 512, True, 1.0),
                                     ("icon-maskable-512.png", 512, False, 0.8),
                                     ("apple-touch-icon.png", 180, False, 0.9)]:
    png(os.path.join(OUT, name), pixels, draw(pixels, rounded, scale))
    print("wrote", name)
