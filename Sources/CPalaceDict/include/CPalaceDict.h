#ifndef CPALACEDICT_H
#define CPALACEDICT_H
// LZ4 dictionaries shipped with moonpalace, addressed by the dictionary id stored in each record frame.
// The bytes are generated from dictionaries/*.dict by `make dict` (see FORMAT.md, "Dictionary").
#include <stddef.h>
#include <stdint.h>

/// Returns the dictionary with this id and writes its size, or NULL when the id is unknown.
const uint8_t *palace_dictionary(uint32_t dictionary_id, size_t *size);

#endif
