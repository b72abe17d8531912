#!/usr/bin/env bash
# Make Debian's chromium available for the browser test of the HTML data dictionary.
# Idempotent: does nothing when /usr/bin/chromium exists; installs it with apt-get when run as
# root on Debian/Ubuntu; otherwise says that the browser test will be skipped.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser test (once)..."
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); then
    exit 0
  fi
fi
echo "note: /usr/bin/chromium is not installed; the browser test of the data dictionary will be skipped"
exit 0
