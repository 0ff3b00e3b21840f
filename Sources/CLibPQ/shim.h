#ifndef TOKENKEEPER_CLIBPQ_SHIM_H
#define TOKENKEEPER_CLIBPQ_SHIM_H

// libpq, PostgreSQL's client library: the server backends. Only the Store (and Vault) folders import this module.
#include <libpq-fe.h>

#endif
