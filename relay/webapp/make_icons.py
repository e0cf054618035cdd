"""Draw the app's PNG icons with the standard library only (no image library needed).

    python -m relay.webapp.make_icons

writes static/icons/icon-192.png, icon-512.png and icon-maskable-512.png: a white house on the
app's green, the same shape as static/icons/icon.svg. Run it after changing the design.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

GREEN = (0x1F, 0x6F, 0x5C)
WHITE = (0xFF, 0xFF, 0xFF)
ICONS = Path(__file__).resolve().parent / "static" / "icons"


def _inside_house(x: float, y: float) -> bool:
    """Is (x, y) in the house, on a 512-unit canvas (same path as icon.svg)?"""
    if 108 <= y <= 248:  # roof: a triangle from the apex (256, 108) to y = 248
        half = (y - 108) / 140 * 164
        if abs(x - 256) <= half:
            return True
    if 248 <= y <= 404 and 140 <= x <= 372:
        return not (232 <= x <= 280 and y >= 308)  # the door
    return False


def _inside_rounded(x: float, y: float, size: float, radius: float) -> bool:
    cx = min(max(x, radius), size - radius)
    cy = min(max(y, radius), size - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def draw(size: int, maskable: bool = False) -> bytes:
    """The PNG bytes of one icon."""
    scale = 512 / size
    # A maskable icon keeps the drawing in the middle 80 % and fills the whole square.
    shrink = 0.8 if maskable else 1.0
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter type 0
        for px in range(size):
            x, y = (px + 0.5) * scale, (py + 0.5) * scale
            if not maskable and not _inside_rounded(x, y, 512, 96):
                row += bytes((0, 0, 0, 0))
                continue
            hx = 256 + (x - 256) / shrink
            hy = 256 + (y - 256) / shrink
            colour = WHITE if _inside_house(hx, hy) else GREEN
            row += bytes((*colour, 255))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def main() -> None:
    """Write the icons."""
    ICONS.mkdir(parents=True, exist_ok=True)
    (ICONS / "icon-192.png").write_bytes(draw(192))
    (ICONS / "icon-512.png").write_bytes(draw(512))
    (ICONS / "icon-maskable-512.png").write_bytes(draw(512, maskable=True))


if __name__ == "__main__":
    main()
