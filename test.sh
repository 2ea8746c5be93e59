#!/usr/bin/env bash
# Ensures prerequisites, then runs every test of the solution.
#   ./test.sh          fast tests (everything not marked Category=Slow)
#   ./test.sh --all    every test, slow and benchmark-like ones included
# Extra arguments go to `dotnet test` (for example --filter "FullyQualifiedName~Wkv").
# The last line is the summary over all test projects: "N passed, N failed, N skipped".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$ROOT/scripts/prereqs.sh" || exit 1

filter="Category!=Slow"
args=()
for a in "$@"; do
  if [ "$a" = "--all" ]; then filter=""; else args+=("$a"); fi
done

results="$ROOT/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
dotnet build "$ROOT/Rwkv.sln" -c Release --nologo -v q -clp:ErrorsOnly || { echo "build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

cmd=(dotnet test "$ROOT/Rwkv.sln" -c Release --no-build --nologo --logger "trx" --results-directory "$results")
[ -n "$filter" ] && cmd+=(--filter "$filter")
[ ${#args[@]} -gt 0 ] && cmd+=("${args[@]}")
"${cmd[@]}"
rc=$?

# Sum the counters of every project's TRX file.
read -r passed failed skipped < <(python3 - "$results" <<'PY' 2>/dev/null || echo "0 0 0"
import sys, glob, re
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"<Counters ([^>]*)/>", text)
    if not m: continue
    attrs = dict(re.findall(r'(\w+)="(\d+)"', m.group(1)))
    p += int(attrs.get("passed", 0))
    f += int(attrs.get("failed", 0)) + int(attrs.get("error", 0)) + int(attrs.get("timeout", 0)) + int(attrs.get("aborted", 0))
    # Skipped tests count in "total" but not in "executed" (notExecuted stays 0 for xunit skips).
    s += max(int(attrs.get("notExecuted", 0)), int(attrs.get("total", 0)) - int(attrs.get("executed", 0)))
print(p, f, s)
PY
)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
