// The FTS5 tokenizer "palace": the tokens `unicode61` (with the same arguments, e.g. remove_diacritics 2) gives
// for a document laid out by the Swift CJKSegmenter — every run of CJK characters as its overlapping
// two-character words plus its last character alone ("月之暗面" → 月之 之暗 暗面 面), everything else as
// unicode61 words — computed straight from the raw text, without making the laid-out copy.
//
// Invariant: for any document, the tokens (text and positions) are exactly those of
// `unicode61 <args>` over `CJKSegmenter.document(text)` (FullTextTests checks this on mixed and malformed
// text). How:
// - ASCII words (runs of [0-9A-Za-z], which unicode61 makes tokens of and folds to lower case) are made here.
// - A word holding any other non-CJK character is handed to unicode61 as it is (the layout leaves it alone,
//   and the ASCII separators, CJK runs and malformed bytes that end it are separators for unicode61 too).
// - CJK runs: each character's class (starts and continues a token unchanged / is dropped like a separator /
//   anything else) is learned once per process from unicode61 itself; a run whose characters are all of the
//   first two classes becomes its bigrams here, any other run is laid out and handed to unicode61.
// - Queries (and anything but documents) go to unicode61 unchanged: the Swift side lays out queries itself.
// Malformed UTF-8 is treated as the Swift layout treats it (one byte → U+FFFD, a separator).
#include "CPalaceFTS.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct PalaceTokenizer {
    fts5_tokenizer parent;
    Fts5Tokenizer *parentTok;
    int diacritics;   /* remove_diacritics: 0, 1 (unicode61's default) or 2 */
} PalaceTokenizer;

typedef struct PalaceModule {
    fts5_tokenizer parent;
    void *parentUserData;
} PalaceModule;

// CJK ranges of CJKSegmenter.isCJK with 3-byte UTF-8 forms (the 4-byte ones, U+20000–2FFFF, always go the
// exact slow way).
#define CLS_UNKNOWN 0
#define CLS_TOKEN 1     /* starts a token alone and continues one unchanged */
#define CLS_SEP 2       /* yields no token and is not part of its neighbour's token text */
#define CLS_OTHER 3
// One table per remove_diacritics value (0, 1, 2), filled on first use under `cjkLock` (read without it: a
// byte is either still 0, which sends the reader to the lock, or final).
static unsigned char cjkClass[3][0x10000];
static int cjkLearned[3];
static pthread_mutex_t cjkLock = PTHREAD_MUTEX_INITIALIZER;

static int isCJK(unsigned u) {
    return (u >= 0x3040 && u <= 0x30FF) || (u >= 0x3400 && u <= 0x4DBF) || (u >= 0x4E00 && u <= 0x9FFF)
        || (u >= 0xF900 && u <= 0xFAFF) || (u >= 0x20000 && u <= 0x2FFFF);
}

static int learnable(unsigned u) { return isCJK(u) && u < 0x10000; }

// Learning buffer: per character X, "一X X " (3+3+1+3+1 = 11 bytes).
typedef struct Learn { const char *buf; unsigned char *alone, *ctx; } Learn;

static void put3(char *p, unsigned u) {
    p[0] = (char)(0xE0 | (u >> 12)); p[1] = (char)(0x80 | ((u >> 6) & 0x3F)); p[2] = (char)(0x80 | (u & 0x3F));
}

static int learnToken(void *pCtx, int tflags, const char *tok, int n, int iStart, int iEnd) {
    (void)tflags; (void)iEnd;
    Learn *l = pCtx;
    int k = iStart / 11, off = iStart % 11;
    const char *x = l->buf + k * 11 + 3;
    if (off == 0) {
        // Context token, starting at 一: "一" (X separated or dropped), "一X" (X continues unchanged), or other.
        if (n == 3 && memcmp(tok, l->buf + k * 11, 3) == 0) l->ctx[k] = 1;
        else if (n == 6 && memcmp(tok, l->buf + k * 11, 6) == 0) l->ctx[k] = 2;
        else l->ctx[k] = 3;
    } else if (off == 7) {
        l->alone[k] = (n == 3 && memcmp(tok, x, 3) == 0) ? 1 : 3;
    } else {
        l->ctx[k] = 3; l->alone[k] = 3;
    }
    return SQLITE_OK;
}

static void learnCJK(PalaceTokenizer *t) {
    unsigned char *table = cjkClass[t->diacritics];
    static const unsigned ranges[][2] = {{0x3040, 0x30FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF}};
    int count = 0;
    for (int r = 0; r < 4; r++) count += (int)(ranges[r][1] - ranges[r][0] + 1);
    char *buf = malloc((size_t)count * 11);
    unsigned *cps = malloc(sizeof(unsigned) * (size_t)count);
    unsigned char *alone = calloc((size_t)count, 1), *ctx = calloc((size_t)count, 1);
    if (!buf || !cps || !alone || !ctx) { free(buf); free(cps); free(alone); free(ctx); return; }
    int k = 0;
    for (int r = 0; r < 4; r++) {
        for (unsigned u = ranges[r][0]; u <= ranges[r][1]; u++, k++) {
            char *p = buf + k * 11;
            put3(p, 0x4E00); put3(p + 3, u); p[6] = ' '; put3(p + 7, u); p[10] = ' ';
            cps[k] = u;
        }
    }
    Learn l = {buf, alone, ctx};
    int rc = t->parent.xTokenize(t->parentTok, &l, FTS5_TOKENIZE_DOCUMENT, buf, count * 11, learnToken);
    if (rc == SQLITE_OK) {
        for (k = 0; k < count; k++) {
            unsigned char c = CLS_OTHER;
            if (alone[k] == 1 && ctx[k] == 2) c = CLS_TOKEN;
            else if (alone[k] == 0 && ctx[k] == 1) c = CLS_SEP;
            __atomic_store_n(&table[cps[k]], c, __ATOMIC_RELEASE);
        }
    }
    free(buf); free(cps); free(alone); free(ctx);
}

static int palaceCreate(void *pCtx, const char **azArg, int nArg, Fts5Tokenizer **ppOut) {
    PalaceModule *m = pCtx;
    // Only the arguments that leave ASCII words as [0-9A-Za-z] runs folded to lower case.
    int diacritics = 1;
    if (nArg % 2) return SQLITE_ERROR;
    for (int i = 0; i + 1 < nArg; i += 2) {
        if (sqlite3_stricmp(azArg[i], "remove_diacritics") != 0) return SQLITE_ERROR;
        const char *v = azArg[i + 1];
        if ((v[0] != '0' && v[0] != '1' && v[0] != '2') || v[1] != 0) return SQLITE_ERROR;
        diacritics = v[0] - '0';
    }
    PalaceTokenizer *t = sqlite3_malloc(sizeof *t);
    if (!t) return SQLITE_NOMEM;
    t->parent = m->parent;
    t->diacritics = diacritics;
    int rc = m->parent.xCreate(m->parentUserData, azArg, nArg, &t->parentTok);
    if (rc != SQLITE_OK) { sqlite3_free(t); return rc; }
    *ppOut = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void palaceDelete(Fts5Tokenizer *p) {
    PalaceTokenizer *t = (PalaceTokenizer *)p;
    t->parent.xDelete(t->parentTok);
    sqlite3_free(t);
}

// Decodes one well-formed UTF-8 sequence at p[i] (the Swift layout's rules: no overlongs, no surrogates,
// ≤ U+10FFFF); its length, or 0 when malformed (one byte then stands for U+FFFD).
static int decode(const unsigned char *p, int n, int i, unsigned *out) {
    unsigned c = p[i], s;
    int len;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; s = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; s = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; s = c & 0x07; }
    else return 0;
    if (i + len > n) return 0;
    for (int k = 1; k < len; k++) {
        unsigned d = p[i + k];
        if ((d & 0xC0) != 0x80) return 0;
        s = s << 6 | (d & 0x3F);
    }
    if (len == 3 && (s < 0x800 || (s >= 0xD800 && s <= 0xDFFF))) return 0;
    if (len == 4 && (s < 0x10000 || s > 0x10FFFF)) return 0;
    *out = s;
    return len;
}

static int isAlnumASCII(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Per byte: the byte lower-cased when it is an ASCII letter or digit (a token character unicode61 folds), else 0
// (a separator, or not ASCII). One table lookup per byte of an ASCII word, which is copied as it is scanned.
static const unsigned char asciiWordLower[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6', ['7'] = '7',
    ['8'] = '8', ['9'] = '9',
    ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g', ['h'] = 'h',
    ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p',
    ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x',
    ['y'] = 'y', ['z'] = 'z',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g', ['H'] = 'h',
    ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n', ['O'] = 'o', ['P'] = 'p',
    ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x',
    ['Y'] = 'y', ['Z'] = 'z',
};

typedef int (*TokenFn)(void *, int, const char *, int, int, int);

// Forwards a parent's tokens with offsets moved by `base` (a laid-out run's offsets are clamped to the run).
typedef struct Shift { void *ctx; TokenFn xToken; int base, lo, hi, clamp; } Shift;

static int shiftToken(void *pCtx, int tflags, const char *tok, int n, int iStart, int iEnd) {
    Shift *s = pCtx;
    if (s->clamp) { iStart = s->lo; iEnd = s->hi; }
    else { iStart += s->base; iEnd += s->base; }
    return s->xToken(s->ctx, tflags, tok, n, iStart, iEnd);
}

// A CJK run p[a..<b) of `count` characters, any of which the fast path cannot decide: laid out as the Swift
// CJKSegmenter does (document form) and handed to unicode61.
static int slowRun(PalaceTokenizer *t, void *ctx, const unsigned char *p, int a, int b, int count, TokenFn xToken) {
    char stack[1024];
    size_t need = (size_t)(b - a) * 2 + 8;
    char *buf = need <= sizeof stack ? stack : malloc(need);
    if (!buf) return SQLITE_NOMEM;
    int o = 0;
    buf[o++] = ' ';
    if (count == 1) {
        memcpy(buf + o, p + a, (size_t)(b - a)); o += b - a;
    } else {
        int i = a;
        for (int k = 0; k < count - 1; k++) {
            unsigned u;
            int la = decode(p, b, i, &u);
            int lb = decode(p, b, i + la, &u);
            memcpy(buf + o, p + i, (size_t)(la + lb)); o += la + lb;
            buf[o++] = ' ';
            i += la;
        }
        memcpy(buf + o, p + i, (size_t)(b - i)); o += b - i;
    }
    buf[o++] = ' ';
    Shift s = {ctx, xToken, 0, a, b, 1};
    int rc = t->parent.xTokenize(t->parentTok, &s, FTS5_TOKENIZE_DOCUMENT, buf, o, shiftToken);
    if (buf != stack) free(buf);
    return rc;
}

static int palaceTokenize(Fts5Tokenizer *pTok, void *ctx, int flags, const char *text, int nText, TokenFn xToken) {
    PalaceTokenizer *t = (PalaceTokenizer *)pTok;
    if (!(flags & FTS5_TOKENIZE_DOCUMENT) || (flags & FTS5_TOKENIZE_QUERY)) {
        return t->parent.xTokenize(t->parentTok, ctx, flags, text, nText, xToken);
    }
    const unsigned char *p = (const unsigned char *)text;
    const int n = nText;
    unsigned char *table = cjkClass[t->diacritics];
    char word[256];
    int rc = SQLITE_OK;
    int i = 0;
    while (i < n && rc == SQLITE_OK) {
        unsigned char c = p[i];
        if (c < 0x80 && !asciiWordLower[c]) { i++; continue; }
        unsigned u = 0;
        int len = 1;
        if (c >= 0x80) {
            len = decode(p, n, i, &u);
            if (len == 0) { i++; continue; }   // U+FFFD: a separator
            if (len >= 3 && isCJK(u)) {
                // A CJK run: consecutive well-formed CJK characters.
                int a = i, count = 0, fast = 1;
                while (i < n) {
                    unsigned v;
                    int l = p[i] >= 0x80 ? decode(p, n, i, &v) : 0;
                    if (l < 3 || !isCJK(v)) break;
                    if (fast) {
                        if (!learnable(v)) fast = 0;
                        else {
                            unsigned char cls = __atomic_load_n(&table[v], __ATOMIC_ACQUIRE);
                            if (cls == CLS_UNKNOWN) {
                                pthread_mutex_lock(&cjkLock);
                                if (!cjkLearned[t->diacritics]) { learnCJK(t); cjkLearned[t->diacritics] = 1; }
                                pthread_mutex_unlock(&cjkLock);
                                cls = __atomic_load_n(&table[v], __ATOMIC_ACQUIRE);
                            }
                            if (cls != CLS_TOKEN && cls != CLS_SEP) fast = 0;
                        }
                    }
                    count++;
                    i += l;
                }
                if (!fast) { rc = slowRun(t, ctx, p, a, i, count, xToken); continue; }
                // Bigrams of neighbours (each character's token part), then the last character alone.
                int x = a;
                unsigned cx;
                int lx = decode(p, n, x, &cx);
                for (int k = 0; k < count && rc == SQLITE_OK; k++) {
                    int y = x + lx;
                    int tokX = table[cx] == CLS_TOKEN;
                    if (k == count - 1) {
                        if (tokX) rc = xToken(ctx, 0, (const char *)p + x, lx, x, y);
                        break;
                    }
                    unsigned cy;
                    int ly = decode(p, n, y, &cy);
                    int tokY = table[cy] == CLS_TOKEN;
                    if (tokX && tokY) rc = xToken(ctx, 0, (const char *)p + x, lx + ly, x, y + ly);
                    else if (tokX) rc = xToken(ctx, 0, (const char *)p + x, lx, x, y);
                    else if (tokY) rc = xToken(ctx, 0, (const char *)p + y, ly, y, y + ly);
                    x = y; lx = ly; cx = cy;
                }
                continue;
            }
        }
        // A word: ASCII letters and digits and non-CJK characters, up to an ASCII separator, a malformed byte
        // or a CJK character.
        int a = i, ascii = c < 0x80;
        if (ascii) {
            // Its ASCII letters and digits, lower-cased into `word` in the same pass (what is left of the word,
            // if anything, is non-ASCII and goes to the loop below).
            int k = 0;
            unsigned char w;
            while (i < n && (w = asciiWordLower[p[i]]) != 0) {
                if (k < (int)sizeof word) word[k] = (char)w;
                k++;
                i++;
            }
        } else {
            i += len;
        }
        while (i < n) {
            unsigned char d = p[i];
            if (d < 0x80) { if (!isAlnumASCII(d)) break; i++; continue; }
            unsigned v;
            int l = decode(p, n, i, &v);
            if (l == 0 || (l >= 3 && isCJK(v))) break;
            ascii = 0;
            i += l;
        }
        if (ascii && i - a <= (int)sizeof word) {
            // All ASCII: `word` holds the whole word (the loop above added nothing to an ASCII word).
            rc = xToken(ctx, 0, word, i - a, a, i);
        } else {
            Shift s = {ctx, xToken, a, 0, 0, 0};
            rc = t->parent.xTokenize(t->parentTok, &s, FTS5_TOKENIZE_DOCUMENT, text + a, i - a, shiftToken);
        }
    }
    return rc;
}

static void moduleDelete(void *p) { sqlite3_free(p); }

int palace_fts_register(sqlite3 *db) {
    fts5_api *api = 0;
    sqlite3_stmt *stmt = 0;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, 0);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_pointer(stmt, 1, (void *)&api, "fts5_api_ptr", 0);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (!api || api->iVersion < 2) return SQLITE_ERROR;
    PalaceModule *m = sqlite3_malloc(sizeof *m);
    if (!m) return SQLITE_NOMEM;
    rc = api->xFindTokenizer(api, "unicode61", &m->parentUserData, &m->parent);
    if (rc != SQLITE_OK) { sqlite3_free(m); return rc; }
    fts5_tokenizer tok = {palaceCreate, palaceDelete, palaceTokenize};
    return api->xCreateTokenizer(api, "palace", m, &tok, moduleDelete);
}

int palace_sqlite_configure(void) {
    // No global allocation statistics: with them every sqlite3_malloc/sqlite3_free takes one process-wide mutex
    // (the FTS5 hash of a rebuild allocates for every new term; the row writer and the full-text writer run on
    // two threads). Only possible before SQLite is initialized; SQLITE_MISUSE afterwards, which is harmless.
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
