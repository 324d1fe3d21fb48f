#!/usr/bin/env python3
"""Counts test results across meson build directories and prints "N passed, N failed".

Each meson test is a binary; for GoogleTest binaries every test case counts (from the XML that
meson has gtest write next to the build), otherwise the meson test itself counts once. A binary
that failed without a failing case in its XML (a crash, a timeout, a sanitizer abort) counts as
one more failure. A build that did not compile counts as one failure.
"""
import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET


def gtest_counts(xml_path, started):
    if not os.path.exists(xml_path) or os.path.getmtime(xml_path) < started - 1:
        return None
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError:
        return None
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("result") == "skipped" or case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dirs", nargs="*")
    parser.add_argument("--build-failed", action="append", default=[])
    args = parser.parse_args()

    passed = failed = skipped = 0
    failures = [f"build {name}" for name in args.build_failed]
    failed += len(args.build_failed)
    for build in args.build_dirs:
        log = os.path.join(build, "meson-logs", "testlog.json")
        if not os.path.exists(log):
            failures.append(f"{build}: no test log")
            failed += 1
            continue
        with open(log) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        for entry in entries:
            name = entry["name"].split(" / ")[-1]
            ok = entry["result"] in ("OK", "EXPECTEDFAIL")
            counts = gtest_counts(os.path.join(build, name + ".xml"), entry.get("starttime", 0))
            if counts is None:
                if entry["result"] == "SKIP":
                    skipped += 1
                elif ok:
                    passed += 1
                else:
                    failed += 1
                    failures.append(f"{build}: {name} ({entry['result']})")
                continue
            p, fl, s = counts
            passed, failed, skipped = passed + p, failed + fl, skipped + s
            if fl:
                failures.append(f"{build}: {name} ({fl} case(s) failed)")
            if not ok and fl == 0:
                failed += 1
                failures.append(f"{build}: {name} ({entry['result']}, exit {entry.get('returncode')})")

    for f in failures:
        print(f"FAILED: {f}")
    if skipped:
        print(f"({skipped} skipped)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
