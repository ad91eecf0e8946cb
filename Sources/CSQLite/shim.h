#include <sqlite3.h>

/// sqlite3_config is variadic, which Swift cannot call: these wrap the options bulkreg sets.
/// Turns off SQLite's memory statistics, which take a global mutex on every allocation.
static inline int csqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
