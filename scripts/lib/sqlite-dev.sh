# Sourced by scripts/test and scripts/demo: the CSQLite module needs SQLite's C header.
require_sqlite_dev() {
    local dir
    local dirs=(/usr/include /usr/local/include /opt/homebrew/include /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu)
    if command -v xcrun >/dev/null 2>&1; then
        dirs+=("$(xcrun --show-sdk-path 2>/dev/null)/usr/include")
    fi
    if command -v pkg-config >/dev/null 2>&1; then
        dir=$(pkg-config --variable=includedir sqlite3 2>/dev/null || true)
        [[ -n "$dir" ]] && dirs+=("$dir")
    fi
    for dir in "${dirs[@]}"; do
        [[ -f "$dir/sqlite3.h" ]] && return 0
    done
    echo "sqlite3.h not found: bulkreg builds against the system SQLite library and its header." >&2
    echo "install it with: sudo apt-get install libsqlite3-dev" >&2
    exit 1
}
