#include "CPalaceDict.h"

// Placeholder until the log issue generates dictionary v1 (no dictionary is known yet).
const uint8_t *palace_dictionary(uint32_t dictionary_id, size_t *size) {
    (void)dictionary_id;
    *size = 0;
    return NULL;
}
