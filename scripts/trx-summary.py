#!/usr/bin/env python3
"""Prints the failed tests of the given .trx files in the order they started, so the first
failure (usually the cause of the others) is visible at the end of a long CI log."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
failed = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        print(f"cannot read {path}: {e}")
        continue
    for r in root.iter(NS + "UnitTestResult"):
        if r.get("outcome") != "Failed":
            continue
        message = r.findtext(f"{NS}Output/{NS}ErrorInfo/{NS}Message") or ""
        failed.append((r.get("startTime", ""), r.get("testName", "?"), r.get("duration", ""), message))

if failed:
    failed.sort()
    print(f"==> {len(failed)} failed test(s), in the order they started:")
    for i, (start, name, duration, message) in enumerate(failed):
        print(f"  [{start[11:19]}] {name} ({duration[:8]})")
        if i < 4:
            for line in message.strip().splitlines()[:6]:
                print(f"      {line[:300]}")
