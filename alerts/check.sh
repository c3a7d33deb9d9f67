#!/usr/bin/env bash
# Checks the static alerts, their runbooks and the example Alertmanager configuration:
#   - promtool check rules on every alerts/*.rules.yaml;
#   - promtool test rules on every alerts/tests/*.yaml;
#   - the alert contract (for, severity, summary, description with the value, runbook_url
#     naming an existing runbook with its sections, a firing and a quiet test per alert);
#   - amtool check-config on manifests/alertmanager/alertmanager.yaml, amtool routing of
#     every severity and of every static alert to the expected receiver;
#   - the inhibition rules on a real Alertmanager started on a loopback port.
# A missing tool is an error, never a skip. Ends with the line `N passed, M failed`.
#
# Tools: promtool from $PROMTOOL, else PATH, else the pinned build cache
# (`e2e/cluster/build.sh promtool` builds it); amtool and alertmanager from $AMTOOL and
# $ALERTMANAGER, else PATH (Debian package prometheus-alertmanager, installed by
# scripts/install-deps.sh); python3 with PyYAML.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
alerts="$repo/alerts"
am_config="$repo/manifests/alertmanager/alertmanager.yaml"

die() {
	printf 'alerts/check.sh: %s\n' "$*" >&2
	exit 2
}

find_promtool() {
	if [[ -n "${PROMTOOL:-}" ]]; then
		[[ -x "$PROMTOOL" ]] || die "PROMTOOL=$PROMTOOL is not an executable file"
		echo "$PROMTOOL"
	elif command -v promtool >/dev/null 2>&1; then
		command -v promtool
	else
		local cached
		cached="$("$repo/e2e/cluster/build.sh" bin-dir)/promtool"
		[[ -x "$cached" ]] || die "promtool not found: set PROMTOOL, put it on PATH, or build it with 'e2e/cluster/build.sh promtool' (expected at $cached)"
		echo "$cached"
	fi
}

# find_tool VAR NAME... : $VAR if set, else the first NAME on PATH.
find_tool() {
	local var="$1"
	shift
	if [[ -n "${!var:-}" ]]; then
		[[ -x "${!var}" ]] || die "$var=${!var} is not an executable file"
		echo "${!var}"
		return
	fi
	local name
	for name in "$@"; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return
		fi
	done
	die "$1 not found (set $var or run scripts/install-deps.sh, which installs the Debian package prometheus-alertmanager)"
}

promtool="$(find_promtool)"
amtool="$(find_tool AMTOOL amtool)"
alertmanager="$(find_tool ALERTMANAGER prometheus-alertmanager alertmanager)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
python3 -c 'import yaml' 2>/dev/null || die "python3 has no PyYAML: pip install pyyaml (or apt-get install python3-yaml)"
echo "promtool:     $promtool ($("$promtool" --version 2>&1 | head -n1))"
echo "amtool:       $amtool ($("$amtool" --version 2>&1 | head -n1))"
echo "alertmanager: $alertmanager"

passed=0
failed=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# check NAME COMMAND...: runs the command, counts it, shows its output on failure.
check() {
	local name="$1"
	shift
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "PASS $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		sed 's/^/    /' "$log"
	fi
}

# count_lines: counts the PASS/FAIL lines a helper script prints (and echoes them). A
# helper that fails without printing a FAIL line counts as one failure.
count_lines() {
	local rc=0 line fails_before=$failed
	"$@" >"$log" 2>&1 || rc=$?
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		PASS\ *) passed=$((passed + 1)) ;;
		FAIL\ *) failed=$((failed + 1)) ;;
		esac
	done <"$log"
	if ((rc != 0 && failed == fails_before)); then
		failed=$((failed + 1))
		echo "FAIL $* exited with $rc"
	fi
}

# routes_to RECEIVER LABEL=VALUE...: amtool resolves the labels to exactly that receiver.
routes_to() {
	local want="$1" got
	shift
	got="$("$amtool" config routes test --config.file="$am_config" "$@" 2>/dev/null)"
	if [[ "$got" != "$want" ]]; then
		echo "labels $* route to '$got', want '$want'"
		return 1
	fi
}

shopt -s nullglob
rule_files=("$alerts"/*.rules.yaml)
test_files=("$alerts"/tests/*.yaml)
((${#rule_files[@]} > 0)) || die "no rule files in $alerts"
((${#test_files[@]} > 0)) || die "no test files in $alerts/tests"

for f in "${rule_files[@]}"; do
	check "promtool check rules ${f#"$repo"/}" "$promtool" check rules "$f"
done
for f in "${test_files[@]}"; do
	check "promtool test rules ${f#"$repo"/}" "$promtool" test rules "$f"
done

count_lines python3 "$alerts/check_contract.py"

check "amtool check-config ${am_config#"$repo"/}" "$amtool" check-config "$am_config"
check "route severity=page to pager" routes_to pager severity=page alertname=SLOErrorBudgetBurn slo=availability namespace=payments
check "route severity=ticket to ticket" routes_to ticket severity=ticket alertname=SLOErrorBudgetBurn slo=availability namespace=payments
check "route severity=warning to chat" routes_to chat severity=warning alertname=TidewatchFeatureDriftWarning namespace=payments
check "route an alert without severity to ticket" routes_to ticket alertname=SomethingElse namespace=payments
declare -A receiver_of=([page]=pager [ticket]=ticket [warning]=chat)
while read -r name severity; do
	check "route $name ($severity) to ${receiver_of[$severity]:-?}" \
		routes_to "${receiver_of[$severity]:-unknown severity $severity}" alertname="$name" severity="$severity" namespace=payments
done < <(python3 "$alerts/check_contract.py" --routes)

count_lines python3 "$alerts/check_inhibition.py" "$alertmanager" "$am_config"

echo "$passed passed, $failed failed"
((failed == 0))
