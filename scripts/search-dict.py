#!/usr/bin/env python3
"""Writes shared/app/src/search/dict.zlib: jieba's dictionary (dict.txt of the jieba-rs crate,
MIT) without its rarest words and without part-of-speech tags, zlib-compressed.

    scripts/search-dict.py <path to jieba-rs>/src/data/dict.txt [min frequency, default 10]

The whole dictionary (349,045 words) costs about 1.7 MB compressed in the catalog function's
binary; words seen fewer than 10 times in jieba's corpus are left to its HMM, which segments
what the dictionary does not hold. 105,157 words stay (566 KB).
"""
import sys
import zlib

ROOT = __file__.rsplit("/scripts/", 1)[0]
src = sys.argv[1]
least = int(sys.argv[2]) if len(sys.argv) > 2 else 10
kept = []
for line in open(src, encoding="utf-8"):
    parts = line.split()
    if len(parts) >= 2 and int(parts[1]) >= least:
        kept.append(f"{parts[0]} {parts[1]}")
data = zlib.compress("\n".join(kept).encode("utf-8"), 9)
open(f"{ROOT}/shared/app/src/search/dict.zlib", "wb").write(data)
print(f"{len(kept)} words, {len(data)} bytes")
