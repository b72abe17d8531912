#!/usr/bin/env bash
# The run logic of the composite GitHub Action (action.yml): validate one data package.
#
# Reads the environment GitHub sets (GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT) and the
# action's inputs (INPUT_PATH, INPUT_FORMAT); DPKG is the dpkg executable (action.yml installs one
# in a virtual environment of its own, never the Debian dpkg on the runner's PATH).
# Prints the report in INPUT_FORMAT (github: one annotation per finding), appends a summary to
# $GITHUB_STEP_SUMMARY, writes the outputs valid=true|false and exit-code=N to $GITHUB_OUTPUT, and
# exits with dpkg's exit code: 0 valid, 1 invalid data, 2 unusable input.
set -uo pipefail

dpkg_bin="${DPKG:?DPKG must name the dpkg executable}"
path="${INPUT_PATH:-.}"
format="${INPUT_FORMAT:-github}"
case "$format" in
  text|json|github|junit) ;;
  *) echo "::error title=dpkg validate::format must be text, json, github or junit, not '$format'"; exit 2 ;;
esac
cd "${GITHUB_WORKSPACE:-.}" || { echo "::error title=dpkg validate::cannot enter GITHUB_WORKSPACE"; exit 2; }

errors_file="$(mktemp)"
trap 'rm -f "$errors_file"' EXIT
# github format: dpkg appends its own table of findings to GITHUB_STEP_SUMMARY
"$dpkg_bin" validate "$path" --format "$format" 2> "$errors_file"
code=$?
cat "$errors_file" >&2

case "$code" in
  0) verdict="✅ \`$path\` is a valid data package" ;;
  1) verdict="❌ \`$path\` has invalid data (see the annotations)" ;;
  *) verdict="⚠️ \`$path\` could not be validated: $(head -n 1 "$errors_file")"
     echo "::error title=dpkg validate::$(head -n 1 "$errors_file")" ;;
esac
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  if [ "$format" != github ] || [ "$code" -gt 1 ]; then
    printf '## dpkg validate\n\n%s (exit %s)\n' "$verdict" "$code" >> "$GITHUB_STEP_SUMMARY"
  fi
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { [ "$code" -eq 0 ] && echo "valid=true" || echo "valid=false"; echo "exit-code=$code"; } >> "$GITHUB_OUTPUT"
fi
exit "$code"
