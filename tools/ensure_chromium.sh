#!/usr/bin/env bash
# Install Debian's chromium for the book's real-browser test (tests/test_book.py) when it is
# missing and this machine can: running as root with apt-get available (as in CI). The one
# place in the repository that installs chromium; other tests only look for it.
# Never fails the build by itself: where it cannot install, the test skips (or, with CI=true,
# fails and says why).
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium missing and cannot install it (needs root and apt-get);" \
       "the browser test will skip (fail with CI=true)." >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }; then
  echo "ensure_chromium: apt-get could not install chromium" >&2
fi
exit 0
