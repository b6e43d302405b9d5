#!/usr/bin/env bash
# The HTML report in a real browser: headless Chromium opens reports/out/index.html from
# disk (no network), runs its JavaScript; any console message (an error, an uncaught
# exception, a failed load) fails the check. The summary figures on the page must equal
# those in results.json, and add up (observed + violated + never observed = total, by
# chapter and by level too); the filter script must have run. A PNG screenshot is kept
# beside the report (screenshot.png).
# Usage: html_check.sh REPORT_DIR
set -u
dir=$(cd "$1" && pwd)
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
[ -f "$dir/index.html" ] || { echo "FAILED: no $dir/index.html"; echo "0 passed, 1 failed"; exit 1; }
T=$(mktemp -d /tmp/iscsilab-html-XXXXXX)
# --no-sandbox: CI runs as root. The dbus line Chromium prints on stderr is harmless.
browser() { timeout 120 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --user-data-dir="$T/profile" "$@"; }
browser --dump-dom "file://$dir/index.html" >"$T/dom.html" 2>"$T/dom.err"
check "Chromium rendered the page ($(wc -c <"$T/dom.html") bytes of DOM)" '[ -s "$T/dom.html" ]'
console=$(grep -E "CONSOLE" "$T/dom.err" || true)
check "no console message while loading and running the page" '[ -z "$console" ]'
[ -n "$console" ] && echo "$console" | sed 's/^/    /'
browser --screenshot="$dir/screenshot.png" --window-size=1280,2400 "file://$dir/index.html" >/dev/null 2>"$T/shot.err"
check "a screenshot was kept ($dir/screenshot.png)" '[ -s "$dir/screenshot.png" ]'
python3 - "$T/dom.html" "$dir/results.json" <<'PY' || fail=1
import json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
res = json.load(open(sys.argv[2]))["report"]["summary"]
bad = 0
def fig(id_):
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(id_), dom)
    return m.group(1).strip() if m else None
def same(name, page, want):
    global bad
    ok = page is not None and str(page) == str(want)
    print(("ok" if ok else "FAILED") + f": {name}: page {page}, results.json {want}")
    bad += not ok
req, must = res["requirements"], res["must_level"]
same("requirements", fig("fig-total"), req["total"])
same("observed", fig("fig-observed"), req["observed"])
same("violated", fig("fig-violated"), req["violated"])
same("never observed", fig("fig-never"), req["never_observed"])
same("MUST-level observed", fig("fig-must-observed"), must["observed"])
same("MUST-level total", fig("fig-must-total"), must["total"])
same("MUST-level share", fig("fig-must-share"), "%.1f%%" % (100.0 * must["observed"] / must["total"] if must["total"] else 0))
same("scenario runs passed", fig("fig-scenarios-passed"), res["scenarios"]["passed"])
same("scenario runs failed", fig("fig-scenarios-failed"), res["scenarios"]["failed"])
for k in ("passed", "skipped", "failed", "total"):
    same("peer " + k, fig("fig-peer-" + k), res["peer"][k])
for k in ("passed", "failed", "total"):
    same("unit " + k, fig("fig-unit-" + k), res["unit"][k])
# The figures add up.
def adds(name, c):
    global bad
    ok = c["observed"] + c["violated"] + c["never_observed"] == c["total"]
    print(("ok" if ok else "FAILED") + f": {name} adds up ({c})")
    bad += not ok
adds("all requirements", req)
adds("MUST-level", must)
for k, c in res["by_section"].items(): adds("chapter " + k, c)
for k, c in res["by_level"].items(): adds("level " + k, c)
for key in ("total", "observed", "violated", "never_observed"):
    s = sum(c[key] for c in res["by_section"].values())
    ok = s == req[key]
    print(("ok" if ok else "FAILED") + f": chapters sum to the total {key} ({s} = {req[key]})")
    bad += not ok
rows = len(re.findall(r'<tr data-status="', dom))
ok = rows == req["total"]
print(("ok" if ok else "FAILED") + f": one row per requirement ({rows})")
bad += not ok
# The filter script ran: it marks the "all" button and counts the rows shown.
ok = re.search(r'<button data-filter="all" class="on">', dom) is not None and fig("shown-count") == str(req["total"])
print(("ok" if ok else "FAILED") + ": the filter script ran")
bad += not ok
loads = re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"|url\((?:https?:)?//', dom)
ok = not loads and '<link rel="stylesheet"' not in dom
print(("ok" if ok else "FAILED") + f": self-contained (nothing loaded from a network: {loads[:3]})")
bad += not ok
sys.exit(1 if bad else 0)
PY
rm -rf "$T"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
