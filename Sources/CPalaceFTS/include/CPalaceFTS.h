#ifndef CPALACEFTS_H
#define CPALACEFTS_H
// The index's FTS5 tokenizer "palace" (see palace_tokenizer.c): registered on each connection.
#include <sqlite3.h>

/// Registers the "palace" tokenizer on `db` (SQLITE_OK, or an SQLite error code).
int palace_fts_register(sqlite3 *db);

#endif
