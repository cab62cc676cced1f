/* scan: parcels in flight, their stall timers and responsibility; see scan.h.
 *
 * Memory is the point of this file: a courier has millions of parcels in
 * flight and the daemon keeps the latest scan of each. A parcel is one
 * 40-byte record (the timer node, the scan time, three 32-bit references and
 * four bytes of type, roles and flags), 4 bytes of index per slot, its
 * waybill once in an arena, and one pointer in the timer heap while its stall
 * deadline is pending: about 70 bytes with 12-character waybills.
 *
 *  - Records live in fixed-size chunks that never move, because the timer
 *    heap points at the ThNode inside them. A record is named by a 32-bit
 *    number (chunk << CHUNK_SHIFT | slot).
 *  - The index is open addressing with linear probing over record numbers;
 *    the key is compared through the record's waybill, so the index costs no
 *    copy of the key.
 *  - Waybills are NUL-terminated in 64 KiB arena blocks and named by 32-bit
 *    offsets (block << ARENA_SHIFT | position); blocks never move either, so
 *    ps_waybill can hand out a pointer.
 *  - Site codes are interned: a network has thousands of sites and every
 *    parcel names one or two of them. */
#include "scan.h"

#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* ---- responsibility ----------------------------------------------------- */

static const char *const rule_names[RULE__COUNT] = {
    [RULE_NO_SCAN] = "no_scan",
    [RULE_PICKUP_NO_DEPART] = "pickup_no_depart",
    [RULE_ORIGIN_DEPART_NO_ARRIVE] = "origin_depart_no_arrive",
    [RULE_HUB_DEPART_NO_ARRIVE] = "hub_depart_no_arrive",
    [RULE_HUB_ARRIVE_NO_DEPART] = "hub_arrive_no_depart",
    [RULE_DELIVERY_ARRIVE_NO_DELIVER_SCAN] = "delivery_arrive_no_deliver_scan",
    [RULE_DELIVER_NOT_SIGNED] = "deliver_not_signed",
    [RULE_PROBLEM_AT_SITE] = "problem_at_site",
    [RULE_SIGNED] = "signed",
};

const char *scan_rule_name(RespRule r)
{
    return (unsigned)r < RULE__COUNT ? rule_names[r] : NULL;
}

/* The row of the responsibility table a scan falls in, which is also the
 * tie-break order of scans with the same occurred_at: the chain normally
 * moves down the table, so at equal seconds the scan further along wins. A
 * depart from a delivery site (a station forwarding a parcel) counts as a
 * depart from a hub, an arrive at an origin site as an arrive at a hub. */
static int scan_rank(ScanType t, SiteRole r)
{
    switch (t) {
    case SCAN_PICKUP: return 0;
    case SCAN_DEPART: return r == ROLE_ORIGIN ? 1 : 2;
    case SCAN_ARRIVE: return r == ROLE_DELIVERY ? 4 : 3;
    case SCAN_DELIVER: return 5;
    case SCAN_PROBLEM:
    case SCAN_RETURN: return 6;
    case SCAN_SIGNED: return 7;
    default: return -1;
    }
}

bool scan_later(ScanType a_type, SiteRole a_role, int64_t a_at, ScanType b_type, SiteRole b_role, int64_t b_at)
{
    if (a_at != b_at)
        return a_at > b_at;
    return scan_rank(a_type, a_role) > scan_rank(b_type, b_role);
}

static void set_site(Responsible *out, const char *site)
{
    /* Site codes are at most EVT_SITE_MAX (64) bytes, the size of the field. */
    size_t n = site ? strlen(site) : 0;
    if (n > ALERT_STR_MAX)
        n = ALERT_STR_MAX;
    if (n)
        memcpy(out->site, site, n);
    out->site[n] = '\0';
}

static void set_rule(Responsible *out, RespRule r)
{
    const char *name = rule_names[r];
    size_t n = strlen(name);
    memcpy(out->rule, name, n + 1); /* the longest name is 31 bytes, rule[] 40 */
}

void scan_responsible(const LatestScan *latest, const char *complaint_site, Responsible *out)
{
    out->known = true;
    if (!latest) {
        set_site(out, complaint_site);
        out->role = ROLE_ORIGIN;
        set_rule(out, RULE_NO_SCAN);
        return;
    }
    RespRule rule;
    const char *site = latest->site;
    int role = latest->role;
    switch (latest->type) {
    case SCAN_PICKUP: rule = RULE_PICKUP_NO_DEPART; break;
    case SCAN_DEPART:
        if (latest->role == ROLE_ORIGIN) {
            rule = RULE_ORIGIN_DEPART_NO_ARRIVE;
        } else {
            /* Between hubs the parcel is in the receiving site's hands once
             * it left the sender: the next site never scanned it in. */
            rule = RULE_HUB_DEPART_NO_ARRIVE;
            site = latest->next_site;
            role = latest->next_role;
        }
        break;
    case SCAN_ARRIVE:
        rule = latest->role == ROLE_DELIVERY ? RULE_DELIVERY_ARRIVE_NO_DELIVER_SCAN : RULE_HUB_ARRIVE_NO_DEPART;
        break;
    case SCAN_DELIVER: rule = RULE_DELIVER_NOT_SIGNED; break;
    case SCAN_PROBLEM:
    case SCAN_RETURN: rule = RULE_PROBLEM_AT_SITE; break;
    case SCAN_SIGNED: rule = RULE_SIGNED; break;
    default:
        /* Not a scan type: say nothing rather than blame a site. */
        out->known = false;
        out->site[0] = '\0';
        out->role = -1;
        out->rule[0] = '\0';
        return;
    }
    set_site(out, site);
    out->role = role >= 0 && role < ROLE__COUNT ? role : -1;
    set_rule(out, rule);
}

/* ---- the parcel set ----------------------------------------------------- */

#define CHUNK_SHIFT 12
#define CHUNK_RECS (1u << CHUNK_SHIFT)
#define ARENA_SHIFT 16
#define ARENA_BLOCK (1u << ARENA_SHIFT)
/* One block short of the 32-bit offset space, so that no offset is FREE_REC. */
#define ARENA_MAX_BLOCKS ((1u << (32 - ARENA_SHIFT)) - 1)
#define NONE UINT32_MAX     /* empty index slot, no next site, end of the free list */
#define FREE_REC UINT32_MAX /* waybill of a free record */
#define INDEX_MIN 64

enum { PF_STALLED = 1u << 0 };

struct Parcel {
    ThNode node;        /* the stall deadline */
    uint64_t id;        /* hash of the latest scan's event_id: a scan sent again is known by it */
    Tu32 at;            /* occurred_at of the latest scan (32-bit, as a ticket's times) */
    Tu32 pickup;        /* occurred_at of the earliest pickup scan, 0 when none */
    uint32_t waybill;   /* arena offset; FREE_REC when the record is free */
    uint32_t site;      /* interned; the next free record when free */
    uint32_t next_site; /* interned, NONE when none */
    uint8_t type;       /* ScanType */
    int8_t role;        /* SiteRole */
    int8_t next_role;   /* SiteRole, ROLE_NONE when not given */
    uint8_t flags;      /* PF_* */
};

/* Waybills, NUL-terminated, in blocks that never move. */
typedef struct Arena {
    char **blocks;
    uint32_t n_blocks, cap_blocks;
    uint32_t used; /* bytes used in the last block */
} Arena;

/* Interned site codes: id -> string, and an open-addressing index of ids. */
typedef struct SiteTab {
    char **names;
    uint32_t n, cap;
    uint32_t *index;
    uint32_t mask;
    size_t bytes; /* string bytes */
} SiteTab;

struct ParcelSet {
    Parcel **chunks;
    uint32_t n_chunks, cap_chunks;
    uint32_t n_recs;    /* records ever handed out: the high-water mark */
    uint32_t free_head; /* free records (after a prune or a failed insert) */
    size_t count;       /* live parcels */
    size_t n_stalled;   /* of them, stalled (their parcel_stalled alert is firing) */

    uint32_t *index;
    size_t mask; /* slots - 1; the index is NULL while the set is empty */

    Arena arena;
    size_t arena_garbage; /* bytes of pruned waybills */

    SiteTab sites;
    THeap heap;
};

/* FNV-1a with a final avalanche (murmur3's fmix64), so that the low bits
 * used for the slot depend on every character of waybills that share long
 * prefixes, as courier numbering schemes do. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

static inline Parcel *rec_at(const ParcelSet *s, uint32_t rec)
{
    return &s->chunks[rec >> CHUNK_SHIFT][rec & (CHUNK_RECS - 1)];
}

static inline const char *arena_at(const ParcelSet *s, uint32_t off)
{
    return s->arena.blocks[off >> ARENA_SHIFT] + (off & (ARENA_BLOCK - 1));
}

/* ---- sites ---- */

static void sites_free(SiteTab *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->index);
    memset(t, 0, sizeof *t);
}

static int sites_grow_index(SiteTab *t)
{
    uint32_t slots = t->index ? (t->mask + 1) * 2 : 64;
    uint32_t *idx = malloc((size_t)slots * sizeof *idx);
    if (!idx)
        return -1;
    memset(idx, 0xff, (size_t)slots * sizeof *idx);
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = (uint32_t)hash_str(t->names[id]) & (slots - 1);
        while (idx[i] != NONE)
            i = (i + 1) & (slots - 1);
        idx[i] = id;
    }
    free(t->index);
    t->index = idx;
    t->mask = slots - 1;
    return 0;
}

/* The id of a site code, added when new. -1 when out of memory. */
static int site_intern(SiteTab *t, const char *name, uint32_t *id)
{
    if (!t->index || (t->n + 1) * 2 > t->mask + 1) {
        if (t->n == NONE - 1 || sites_grow_index(t) < 0)
            return -1;
    }
    uint32_t i = (uint32_t)hash_str(name) & t->mask;
    for (; t->index[i] != NONE; i = (i + 1) & t->mask) {
        if (strcmp(t->names[t->index[i]], name) == 0) {
            *id = t->index[i];
            return 0;
        }
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **names = realloc(t->names, (size_t)cap * sizeof *names);
        if (!names)
            return -1;
        t->names = names;
        t->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    t->names[t->n] = copy;
    t->bytes += strlen(name) + 1;
    t->index[i] = t->n;
    *id = t->n++;
    return 0;
}

/* ---- records ---- */

static int rec_alloc(ParcelSet *s, uint32_t *rec)
{
    if (s->free_head != NONE) {
        *rec = s->free_head;
        s->free_head = rec_at(s, *rec)->site;
        return 0;
    }
    if (s->n_recs == NONE)
        return -1;
    if (s->n_recs == s->n_chunks * CHUNK_RECS) {
        if (s->n_chunks == s->cap_chunks) {
            uint32_t cap = s->cap_chunks ? s->cap_chunks * 2 : 16;
            Parcel **c = realloc(s->chunks, (size_t)cap * sizeof *c);
            if (!c)
                return -1;
            s->chunks = c;
            s->cap_chunks = cap;
        }
        Parcel *chunk = malloc(CHUNK_RECS * sizeof *chunk);
        if (!chunk)
            return -1;
        s->chunks[s->n_chunks++] = chunk;
    }
    *rec = s->n_recs++;
    return 0;
}

static void rec_release(ParcelSet *s, uint32_t rec)
{
    Parcel *p = rec_at(s, rec);
    p->waybill = FREE_REC;
    p->site = s->free_head;
    s->free_head = rec;
}

/* ---- arena ---- */

/* Copies a waybill of len bytes (plus its NUL) into the arena. A waybill
 * never straddles two blocks; the few bytes left at a block's end are lost. */
static int arena_put(Arena *a, const char *wb, size_t len, uint32_t *off)
{
    uint32_t need = (uint32_t)len + 1;
    if (a->n_blocks == 0 || a->used + need > ARENA_BLOCK) {
        if (a->n_blocks == ARENA_MAX_BLOCKS)
            return -1;
        if (a->n_blocks == a->cap_blocks) {
            uint32_t cap = a->cap_blocks ? a->cap_blocks * 2 : 16;
            char **b = realloc(a->blocks, (size_t)cap * sizeof *b);
            if (!b)
                return -1;
            a->blocks = b;
            a->cap_blocks = cap;
        }
        char *block = malloc(ARENA_BLOCK);
        if (!block)
            return -1;
        a->blocks[a->n_blocks++] = block;
        a->used = 0;
    }
    char *dst = a->blocks[a->n_blocks - 1] + a->used;
    memcpy(dst, wb, len);
    dst[len] = '\0';
    *off = (a->n_blocks - 1) << ARENA_SHIFT | a->used;
    a->used += need;
    return 0;
}

static void arena_free(Arena *a)
{
    for (uint32_t i = 0; i < a->n_blocks; i++)
        free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

/* ---- index ---- */

/* The slot holding waybill wb, or the empty slot where it would go. */
static size_t index_find(const ParcelSet *s, const char *wb, uint64_t h)
{
    size_t i = (size_t)h & s->mask;
    for (; s->index[i] != NONE; i = (i + 1) & s->mask) {
        if (strcmp(arena_at(s, rec_at(s, s->index[i])->waybill), wb) == 0)
            break;
    }
    return i;
}

static void index_fill(ParcelSet *s, uint32_t *idx, size_t mask)
{
    for (uint32_t rec = 0; rec < s->n_recs; rec++) {
        const Parcel *p = rec_at(s, rec);
        if (p->waybill == FREE_REC)
            continue;
        size_t i = (size_t)hash_str(arena_at(s, p->waybill)) & mask;
        while (idx[i] != NONE)
            i = (i + 1) & mask;
        idx[i] = rec;
    }
}

/* Keeps the load at or below 3/4: linear probing stays short there, and
 * doubling keeps the index between 1.3 and 2.7 slots (5 to 11 bytes) a parcel. */
static int index_reserve(ParcelSet *s, size_t count)
{
    size_t slots = s->index ? s->mask + 1 : 0;
    if (count * 4 <= slots * 3)
        return 0;
    size_t want = slots ? slots * 2 : INDEX_MIN;
    while (count * 4 > want * 3)
        want *= 2;
    uint32_t *idx = malloc(want * sizeof *idx);
    if (!idx)
        return -1;
    memset(idx, 0xff, want * sizeof *idx);
    index_fill(s, idx, want - 1);
    free(s->index);
    s->index = idx;
    s->mask = want - 1;
    return 0;
}

static Parcel *lookup(const ParcelSet *s, const char *wb, uint64_t h)
{
    if (!s->index)
        return NULL;
    uint32_t rec = s->index[index_find(s, wb, h)];
    return rec == NONE ? NULL : rec_at(s, rec);
}

/* ---- the set ---- */

ParcelSet *ps_new(void)
{
    ParcelSet *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->free_head = NONE;
    th_init(&s->heap);
    return s;
}

void ps_free(ParcelSet *s)
{
    if (!s)
        return;
    th_free(&s->heap);
    for (uint32_t i = 0; i < s->n_chunks; i++)
        free(s->chunks[i]);
    free(s->chunks);
    free(s->index);
    arena_free(&s->arena);
    sites_free(&s->sites);
    free(s);
}

size_t ps_count(const ParcelSet *s)
{
    return s->count;
}

size_t ps_memory(const ParcelSet *s)
{
    size_t m = sizeof *s;
    m += (size_t)s->n_chunks * CHUNK_RECS * sizeof(Parcel) + (size_t)s->cap_chunks * sizeof(Parcel *);
    m += s->index ? (s->mask + 1) * sizeof *s->index : 0;
    m += (size_t)s->arena.n_blocks * ARENA_BLOCK + (size_t)s->arena.cap_blocks * sizeof(char *);
    m += (size_t)s->sites.cap * sizeof(char *) + s->sites.bytes;
    m += s->sites.index ? ((size_t)s->sites.mask + 1) * sizeof(uint32_t) : 0;
    m += (size_t)s->heap.cap * sizeof(ThNode *);
    return m;
}

/* Makes sc the latest scan of p and re-arms its deadline. Nothing changes
 * when it fails (an interned site may stay, which is harmless). */
static int set_latest(ParcelSet *s, Parcel *p, const ScanEvent *sc, bool stalled, int64_t stall_after)
{
    uint32_t site, next = NONE;
    if (site_intern(&s->sites, sc->site, &site) < 0)
        return -1;
    if (sc->next_site[0] && site_intern(&s->sites, sc->next_site, &next) < 0)
        return -1;
    if (sc->scan_type == SCAN_SIGNED)
        stalled = false; /* a signed parcel has arrived; nothing to presume lost */
    if (sc->scan_type == SCAN_SIGNED || stalled)
        th_remove(&s->heap, &p->node);
    else if (th_set(&s->heap, &p->node, tu_add_sat(sc->occurred_at, stall_after)) < 0)
        return -1;
    p->id = hash_str(sc->event_id);
    p->at = tu32_of(sc->occurred_at);
    p->site = site;
    p->next_site = next;
    p->type = (uint8_t)sc->scan_type;
    p->role = (int8_t)sc->site_role;
    p->next_role = (int8_t)sc->next_site_role;
    s->n_stalled -= (p->flags & PF_STALLED) != 0;
    p->flags = stalled ? PF_STALLED : 0;
    s->n_stalled += stalled;
    return 0;
}

/* Adds a parcel that is not in the set yet. */
static int insert_new(ParcelSet *s, const char *wb, uint64_t h, const ScanEvent *sc, bool stalled, int64_t stall_after)
{
    if (index_reserve(s, s->count + 1) < 0)
        return -1;
    uint32_t rec;
    if (rec_alloc(s, &rec) < 0)
        return -1;
    Parcel *p = rec_at(s, rec);
    uint32_t used = s->arena.used, blocks = s->arena.n_blocks;
    if (arena_put(&s->arena, wb, strnlen(wb, EVT_WAYBILL_MAX), &p->waybill) < 0)
        goto fail;
    th_node_init(&p->node);
    p->flags = 0;
    p->pickup = tu32_of(sc->scan_type == SCAN_PICKUP ? sc->occurred_at : 0);
    if (set_latest(s, p, sc, stalled, stall_after) < 0) {
        /* Take the waybill back unless a block was started for it: then the
         * block stays, empty, for the next one. */
        s->arena.used = s->arena.n_blocks == blocks ? used : 0;
        goto fail;
    }
    s->index[index_find(s, wb, h)] = rec;
    s->count++;
    return 0;
fail:
    rec_release(s, rec);
    return -1;
}

int ps_apply(ParcelSet *s, const ScanEvent *sc, int64_t stall_after, PsResult *res, bool *was_stalled, int64_t *prev_at)
{
    *res = PS_OLDER;
    *was_stalled = false;
    *prev_at = PS_NO_PREV;
    uint64_t h = hash_str(sc->waybill);
    Parcel *p = lookup(s, sc->waybill, h);
    if (!p) {
        if (insert_new(s, sc->waybill, h, sc, false, stall_after) < 0)
            return -1;
        *res = PS_LATEST;
        return 0;
    }
    if (sc->scan_type == SCAN_PICKUP && (p->pickup.v == 0 || sc->occurred_at < tu32_get(p->pickup)))
        p->pickup = tu32_of(sc->occurred_at);
    if (!scan_later(sc->scan_type, sc->site_role, sc->occurred_at, (ScanType)p->type, (SiteRole)p->role,
                    tu32_get(p->at)))
        return 0;
    bool stalled = p->flags & PF_STALLED;
    int64_t prev = tu32_get(p->at);
    /* A later row of the same second (a tie that arrived late) does not end
     * a stall: the parcel still has no scan after that second, which the
     * stall's id names, and ending it would fire the same id again. A
     * signature does end it. */
    bool keep = stalled && sc->occurred_at == prev && sc->scan_type != SCAN_SIGNED;
    if (set_latest(s, p, sc, keep, stall_after) < 0)
        return -1;
    *res = PS_LATEST;
    *was_stalled = stalled && !keep;
    *prev_at = prev;
    return 0;
}

int ps_restore(ParcelSet *s, const ScanEvent *latest, int64_t pickup, bool stalled, int64_t stall_after)
{
    uint64_t h = hash_str(latest->waybill);
    Parcel *p = lookup(s, latest->waybill, h);
    if (!p) {
        if (insert_new(s, latest->waybill, h, latest, stalled, stall_after) < 0)
            return -1;
        p = lookup(s, latest->waybill, h);
    } else if (set_latest(s, p, latest, stalled, stall_after) < 0) {
        return -1;
    }
    p->pickup = tu32_of(pickup);
    return 0;
}

static void fill_latest(const ParcelSet *s, const Parcel *p, LatestScan *out)
{
    out->type = (ScanType)p->type;
    out->role = (SiteRole)p->role;
    out->next_role = (SiteRole)p->next_role;
    out->at = tu32_get(p->at);
    out->site = s->sites.names[p->site];
    out->next_site = p->next_site == NONE ? NULL : s->sites.names[p->next_site];
    out->pickup = tu32_get(p->pickup);
    out->id = p->id;
}

bool ps_latest(const ParcelSet *s, const char *waybill, LatestScan *out)
{
    const Parcel *p = lookup(s, waybill, hash_str(waybill));
    if (!p)
        return false;
    fill_latest(s, p, out);
    return true;
}

bool ps_latest_id_is(const LatestScan *latest, const ScanEvent *sc)
{
    return latest->id == hash_str(sc->event_id);
}

Parcel *ps_next_due(const ParcelSet *s, int64_t *due)
{
    ThNode *n = th_peek(&s->heap);
    if (!n)
        return NULL;
    *due = n->due;
    return (Parcel *)((char *)n - offsetof(Parcel, node));
}

void ps_mark_stalled(ParcelSet *s, Parcel *p)
{
    th_remove(&s->heap, &p->node);
    s->n_stalled += !(p->flags & PF_STALLED);
    p->flags |= PF_STALLED;
}

size_t ps_stalled_count(const ParcelSet *s)
{
    return s->n_stalled;
}

const char *ps_waybill(const ParcelSet *s, const Parcel *p)
{
    return arena_at(s, p->waybill);
}

void ps_parcel_latest(const ParcelSet *s, const Parcel *p, LatestScan *out)
{
    fill_latest(s, p, out);
}

bool ps_stalled(const Parcel *p)
{
    return p->flags & PF_STALLED;
}

/* Copies the live waybills into fresh blocks, dropping pruned ones. Gives up
 * (keeping the old arena) when memory is short: garbage is only waste. */
static void arena_compact(ParcelSet *s)
{
    Arena fresh = {0};
    uint32_t *offs = malloc((size_t)s->n_recs * sizeof *offs + 1);
    if (!offs)
        return;
    for (uint32_t rec = 0; rec < s->n_recs; rec++) {
        const Parcel *p = rec_at(s, rec);
        if (p->waybill == FREE_REC)
            continue;
        const char *wb = arena_at(s, p->waybill);
        if (arena_put(&fresh, wb, strlen(wb), &offs[rec]) < 0) {
            arena_free(&fresh);
            free(offs);
            return;
        }
    }
    for (uint32_t rec = 0; rec < s->n_recs; rec++) {
        Parcel *p = rec_at(s, rec);
        if (p->waybill != FREE_REC)
            p->waybill = offs[rec];
    }
    arena_free(&s->arena);
    s->arena = fresh;
    s->arena_garbage = 0;
    free(offs);
}

int ps_rearm(ParcelSet *s, int64_t stall_after, uint32_t *iter, size_t max)
{
    for (size_t n = 0; *iter < s->n_recs && n < max; (*iter)++, n++) {
        Parcel *p = rec_at(s, *iter);
        if (p->waybill == FREE_REC || p->type == SCAN_SIGNED || (p->flags & PF_STALLED))
            continue;
        if (th_set(&s->heap, &p->node, tu_add_sat(tu32_get(p->at), stall_after)) < 0)
            return -1;
    }
    return *iter < s->n_recs;
}

size_t ps_prune_signed(ParcelSet *s, int64_t before)
{
    size_t dropped = 0;
    for (uint32_t rec = 0; rec < s->n_recs; rec++) {
        Parcel *p = rec_at(s, rec);
        if (p->waybill == FREE_REC || p->type != SCAN_SIGNED || tu32_get(p->at) >= before)
            continue;
        s->arena_garbage += strlen(arena_at(s, p->waybill)) + 1;
        th_remove(&s->heap, &p->node); /* signed: never queued, but be sure */
        rec_release(s, rec);
        s->count--;
        dropped++;
    }
    if (!dropped)
        return 0;
    /* Rebuilding the index in place is simpler than deleting from a linear
     * probe sequence one key at a time, and a prune touches every record
     * anyway. */
    memset(s->index, 0xff, (s->mask + 1) * sizeof *s->index);
    index_fill(s, s->index, s->mask);
    /* Compact once half the arena is garbage: the copy is then paid for by
     * the memory it gives back. */
    if (s->arena_garbage * 2 > (size_t)s->arena.n_blocks * ARENA_BLOCK)
        arena_compact(s);
    return dropped;
}
