#ifndef TOKENKEEPER_CSQLITE_SHIM_H
#define TOKENKEEPER_CSQLITE_SHIM_H

// SQLite 3, the token store's engine. Only the Store folder imports this module.
#include <sqlite3.h>

#endif
