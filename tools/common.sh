# Shared by the scripts in tools/: finds the repository root and the Swift toolchain.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "error: no Swift toolchain on PATH (Swift 6 is needed: https://www.swift.org/install/)" >&2
  exit 1
fi
