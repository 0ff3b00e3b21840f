#ifndef TOKENKEEPER_CSQLITE_SHIM_H
#define TOKENKEEPER_CSQLITE_SHIM_H

// SQLite 3, the token store's engine. Only the Store folder imports this module.
#include <sqlite3.h>

// SQLite keeps memory statistics by default, behind a global mutex taken on every allocation; tokenkeeper
// never reads them. Must run before SQLite initializes (the first open); later it returns SQLITE_MISUSE and
// changes nothing. sqlite3_config is variadic, which Swift cannot call, hence this wrapper.
static inline int tokenkeeper_sqlite3_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#endif
