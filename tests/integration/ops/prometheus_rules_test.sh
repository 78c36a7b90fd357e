#!/usr/bin/env bash
# prometheus_rules_test.sh: checks the alerting rules of scripts/prometheus/ (ctest:
# prometheus_rules): `promtool check rules` accepts them, `promtool test rules` passes their unit
# tests (each rule firing and not firing), every tandem_ metric they use is one the server
# exports (named in server/monitor/), and the unit tests can fail: with one threshold moved
# they must not pass. Needs promtool (Debian's prometheus package, in scripts/install-deps).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
rules="$root/scripts/prometheus"

command -v promtool >/dev/null || { echo "promtool is missing (apt-get install prometheus)" >&2; exit 1; }
promtool check rules "$rules/tandem-rules.yml"
(cd "$rules" && promtool test rules tandem-rules.test.yml)

missing=0
for name in $(grep -o -E 'tandem_[a-z_]+' "$rules/tandem-rules.yml" | sed -E 's/_bucket$//' | sort -u); do
  if ! grep -q -r --include='*.cc' "\"$name\"" "$root/server/monitor"; then
    echo "tandem-rules.yml uses $name, which server/monitor/ does not export" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ]

# The unit tests bite: with the commit latency threshold at 5 s the firing case must fail.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed 's/) > 0.25$/) > 5/' "$rules/tandem-rules.yml" >"$tmp/tandem-rules.yml"
! cmp -s "$rules/tandem-rules.yml" "$tmp/tandem-rules.yml" || { echo "the threshold edit did not apply" >&2; exit 1; }
cp "$rules/tandem-rules.test.yml" "$tmp/"
if (cd "$tmp" && promtool test rules tandem-rules.test.yml >/dev/null 2>&1); then
  echo "promtool test rules passed with a wrong threshold: the unit tests do not check it" >&2
  exit 1
fi
echo "prometheus rules: checked, unit tests pass, and fail on a wrong threshold"
