/* explain: deadlines laid out step by step; see explain.h.
 *
 * The business calendar has no call that lists its windows, and it need
 * not: cal_add and cal_between are the truth lib/tkt uses, so the stretches
 * here come from them. The first working second at or after t is
 * cal_add(t, 1) - 1; a stretch of work starting at w runs as long as
 * cal_between(w, x) == x - w, which a binary search finds. So the steps
 * always add up to what lib/tkt computes, whatever windows, shift,
 * holidays or extra working dates the calendar has. */
#include "explain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"

#define DAY 86400

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- plans -------------------------------------------------------------- */

static void push(XplPlan *pl, XplStep st)
{
    if (pl->failed || (st.to != TU_NEVER && st.to <= st.from))
        return;
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        XplStep *v = realloc(pl->steps, cap * sizeof *v);
        if (!v) {
            pl->failed = true;
            return;
        }
        pl->steps = v;
        pl->cap = cap;
    }
    pl->steps[pl->n++] = st;
}

/* The calendar's local date of a schedule window that t falls in or after
 * (lib/cal's "schedule frame": the unshifted date whose windows, moved by
 * the shift, cover t). */
static int64_t schedule_date(const Calendar *cal, int shift, int64_t t)
{
    return tu_floordiv(t + (int64_t)cal_utc_offset(cal) * 60 - shift, DAY);
}

static void push_wait(XplPlan *pl, const Calendar *cal, int64_t from, int64_t to)
{
    XplStep st = {.kind = XPL_WAIT, .from = from, .to = to};
    if (to != TU_NEVER && to > from) {
        int64_t d1 = schedule_date(cal, pl->shift, from), d2 = schedule_date(cal, pl->shift, to - 1);
        for (int64_t d = d1; d <= d2 && d - d1 < 3700; d++)
            if (!cal_is_workday(cal, d)) {
                if (st.days_off++ == 0)
                    st.first_off = d;
            }
    }
    push(pl, st);
}

/* Counts up to *remaining seconds from *cursor, not past limit (TU_NEVER:
 * none), adding the steps. True when the budget ran out: *cursor is then
 * the deadline (TU_NEVER when no working time is ahead). False when limit
 * came first: *cursor is limit. */
static bool consume(XplPlan *pl, const Calendar *cal, int64_t *cursor, int64_t limit, int64_t *remaining)
{
    int shift = pl->shift;
    if (pl->clock == CLK_CALENDAR) {
        int64_t end = tu_add_sat(*cursor, *remaining);
        if (limit != TU_NEVER && end > limit) {
            push(pl, (XplStep){.kind = XPL_RUN, .from = *cursor, .to = limit, .secs = limit - *cursor});
            *remaining -= limit - *cursor;
            *cursor = limit;
            return false;
        }
        push(pl, (XplStep){.kind = XPL_RUN, .from = *cursor, .to = end, .secs = end - *cursor});
        *cursor = end;
        *remaining = 0;
        return true;
    }
    while (*remaining > 0) {
        if (pl->n + 2 >= XPL_MAX_STEPS) {
            /* the rest in one step */
            int64_t avail = limit == TU_NEVER ? INT64_MAX : cal_between(cal, shift, *cursor, limit);
            if (avail >= *remaining) {
                int64_t end = cal_add(cal, shift, *cursor, *remaining);
                push(pl, (XplStep){.kind = XPL_MORE, .from = *cursor, .to = end, .secs = *remaining});
                *cursor = end;
                *remaining = 0;
                return true;
            }
            push(pl, (XplStep){.kind = XPL_MORE, .from = *cursor, .to = limit, .secs = avail});
            *remaining -= avail;
            *cursor = limit;
            return false;
        }
        int64_t w1 = cal_add(cal, shift, *cursor, 1);
        if (w1 == TU_NEVER) {
            if (limit != TU_NEVER) {
                push_wait(pl, cal, *cursor, limit);
                *cursor = limit;
                return false;
            }
            push_wait(pl, cal, *cursor, TU_NEVER);
            *cursor = TU_NEVER;
            return true;
        }
        int64_t w = w1 - 1; /* the first working second */
        if (limit != TU_NEVER && w >= limit) {
            push_wait(pl, cal, *cursor, limit);
            *cursor = limit;
            return false;
        }
        if (w > *cursor)
            push_wait(pl, cal, *cursor, w);
        int64_t hi = tu_add_sat(w, *remaining);
        if (limit != TU_NEVER && hi > limit)
            hi = limit;
        int64_t end = hi;
        if (cal_between(cal, shift, w, hi) != hi - w) {
            /* the stretch ends before hi: the last x with every second worked */
            int64_t lo = w + 1;
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (cal_between(cal, shift, w, mid) == mid - w)
                    lo = mid;
                else
                    hi = mid;
            }
            end = lo;
        }
        push(pl, (XplStep){.kind = XPL_RUN, .from = w, .to = end, .secs = end - w});
        *remaining -= end - w;
        *cursor = end;
        if (*remaining > 0 && limit != TU_NEVER && end >= limit)
            return false;
    }
    return true;
}

int64_t xpl_plan(XplPlan *pl, const Calendar *cal, ClockKind clock, int shift, int64_t start, int64_t budget,
                 const Pause *pauses, uint32_t n)
{
    memset(pl, 0, sizeof *pl);
    pl->clock = clock;
    pl->shift = clock == CLK_BUSINESS ? shift : 0;
    pl->start = start;
    pl->budget = budget;
    pl->due = TU_NEVER;
    if (start == TU_NEVER)
        return pl->due;
    int64_t cursor = start, remaining = budget > 0 ? budget : 0;
    /* as lib/tkt's clock_add: each pause not over yet cuts the count */
    for (uint32_t i = 0; i < n; i++) {
        const Pause *pz = &pauses[i];
        if (pz->end != TU_NEVER && pz->end <= cursor)
            continue;
        int64_t ps = max64(pz->start, cursor);
        if (consume(pl, cal, &cursor, ps, &remaining)) {
            pl->due = cursor;
            return pl->due;
        }
        push(pl, (XplStep){.kind = XPL_PAUSE, .from = ps, .to = pz->end});
        if (pz->end == TU_NEVER)
            return pl->due;
        cursor = pz->end;
    }
    consume(pl, cal, &cursor, TU_NEVER, &remaining);
    pl->due = cursor;
    return pl->due;
}

void xpl_plan_free(XplPlan *pl)
{
    if (!pl)
        return;
    free(pl->steps);
    pl->steps = NULL;
    pl->n = pl->cap = 0;
}

/* ---- targets ------------------------------------------------------------ */

/* lib/tkt's clock_add: the instant `amount` seconds of the clock after
 * start, pauses not counted. */
static int64_t clock_after(const Calendar *cal, ClockKind k, int shift, int64_t start, int64_t amount,
                           const Pause *pauses, uint32_t n)
{
    int64_t cursor = start, remaining = amount;
    for (uint32_t i = 0; i < n; i++) {
        if (pauses[i].end != TU_NEVER && pauses[i].end <= cursor)
            continue;
        int64_t ps = max64(pauses[i].start, cursor);
        int64_t avail = ps <= cursor ? 0 : k == CLK_BUSINESS ? cal_between(cal, shift, cursor, ps) : ps - cursor;
        if (avail >= remaining)
            return k == CLK_BUSINESS ? cal_add(cal, shift, cursor, remaining) : tu_add_sat(cursor, remaining);
        remaining -= avail;
        if (pauses[i].end == TU_NEVER)
            return TU_NEVER;
        cursor = pauses[i].end;
    }
    if (k == CLK_BUSINESS)
        return cal_add(cal, shift, cursor, remaining);
    return remaining > TU_NEVER - cursor ? TU_NEVER : cursor + remaining;
}

static int rule_shift(const SlaRule *r, const Ticket *t, const Policy *p)
{
    return r->clock == CLK_BUSINESS ? (int)pol_region_shift(p, tkt_region(t)) : 0;
}

/* The warn point of rule r with ext seconds of extensions, as lib/tkt's
 * schedule_rule. */
static int64_t warn_offset(const SlaRule *r, int64_t ext, const Policy *p)
{
    return r->warn >= 0 ? r->warn + ext : (r->budget + ext) * p->warn_ratio_pct / 100;
}

int xpl_target(XplTarget *x, const Ticket *t, Stage s, const Policy *p)
{
    memset(x, 0, sizeof *x);
    x->stage = s;
    x->due = x->warn_at = TU_NEVER;
    x->plan.due = x->invalid_plan.due = TU_NEVER;
    x->normal_due = x->after_rise = x->statutory_cap = TU_NEVER;
    const Target *tg = &t->tg[s];
    switch (s) {
    case STG_CONTACT: x->target = TGT_CONTACT; break;
    case STG_FIRST_REPLY: x->target = TGT_FIRST_REPLY; break;
    case STG_RESOLVE: x->target = t->claim ? TGT_RESOLVE_CLAIM : TGT_RESOLVE; break;
    default: x->target = TGT_REVISIT; break;
    }
    x->variant = t->round > 1 ? VAR_REOPENED : t->urgent ? VAR_URGENT : VAR_NORMAL;
    x->rule = p->sla[x->target][x->variant];
    if (s == STG_REVISIT && !t->tg[STG_RESOLVE].done) {
        x->state = XPL_NOT_STARTED;
        return 0;
    }
    x->state = tg->done ? XPL_DONE : t->closed ? XPL_STOPPED : XPL_OPEN;
    x->done_at = tg->done ? tu32_get(tg->done_at) : 0;
    x->start = s == STG_REVISIT ? tu32_get(t->tg[STG_RESOLVE].done_at) : tu32_get(t->round_start);
    x->ext = tkt_ext(t, s);
    x->shift = rule_shift(&x->rule, t, p);
    x->warn_explicit = x->rule.warn >= 0;
    x->warn_offset = warn_offset(&x->rule, x->ext, p);

    const Pause *pz = tkt_pauses(t);
    uint32_t npz = tkt_n_pauses(t);
    int64_t deadline = xpl_plan(&x->plan, p->cal, x->rule.clock, x->shift, x->start, x->rule.budget + x->ext, pz, npz);
    int64_t warn = clock_after(p->cal, x->rule.clock, x->shift, x->start, x->warn_offset, pz, npz);

    if (t->round == 1 && t->urgent && tu32_get(t->urgent_at) > x->start) { /* as lib/tkt */
        const SlaRule *nr = &p->sla[x->target][VAR_NORMAL];
        int nshift = rule_shift(nr, t, p);
        int64_t nd = clock_after(p->cal, nr->clock, nshift, x->start, nr->budget + x->ext, pz, npz);
        int64_t nw = clock_after(p->cal, nr->clock, nshift, x->start, warn_offset(nr, x->ext, p), pz, npz);
        x->rise = true;
        x->rise_at = tu32_get(t->urgent_at);
        x->normal_due = nd;
        if (deadline != TU_NEVER)
            deadline = max64(deadline, min64(nd, tu32_get(t->urgent_at)));
        if (warn != TU_NEVER)
            warn = max64(warn, min64(nw, tu32_get(t->urgent_at)));
        x->after_rise = deadline;
    }
    /* as lib/tkt: the limit first, then the invalid target against it */
    if (s == STG_RESOLVE && t->round == 1 && p->statutory_limit > 0) {
        x->statutory = true;
        x->statutory_cap = tu32_get(t->received_at) + p->statutory_limit;
        x->statutory_applied = x->statutory_cap < deadline;
        deadline = min64(deadline, x->statutory_cap);
        warn = min64(warn, deadline);
    }
    if (s == STG_RESOLVE && t->invalid) {
        const SlaRule *ir = &p->invalid_resolve;
        int ishift = rule_shift(ir, t, p);
        x->invalid = true;
        int64_t from = max64(tu32_get(t->invalid_at), x->start); /* as lib/tkt: not before the round */
        int64_t id = xpl_plan(&x->invalid_plan, p->cal, ir->clock, ishift, from, ir->budget, pz, npz);
        int64_t iw = clock_after(p->cal, ir->clock, ishift, from, warn_offset(ir, 0, p), pz, npz);
        if (id < deadline) {
            deadline = id;
            warn = min64(warn, iw);
            x->invalid_applied = true;
        }
    }
    x->due = deadline;
    x->warn_at = warn;
    return x->plan.failed || x->invalid_plan.failed ? -1 : 0;
}

void xpl_target_free(XplTarget *x)
{
    if (!x)
        return;
    xpl_plan_free(&x->plan);
    xpl_plan_free(&x->invalid_plan);
}

/* ---- words -------------------------------------------------------------- */

/* GB/T 2260 province codes and the names tickets use for them. */
static const struct {
    const char *code, *name, *alias1, *alias2;
} provinces[] = {
    {"11", "Beijing", "beijing", NULL},
    {"12", "Tianjin", "tianjin", NULL},
    {"13", "Hebei", "hebei", NULL},
    {"14", "Shanxi", "shanxi", NULL},
    {"15", "Inner Mongolia", "neimenggu", "inner_mongolia"},
    {"21", "Liaoning", "liaoning", NULL},
    {"22", "Jilin", "jilin", NULL},
    {"23", "Heilongjiang", "heilongjiang", NULL},
    {"31", "Shanghai", "shanghai", NULL},
    {"32", "Jiangsu", "jiangsu", NULL},
    {"33", "Zhejiang", "zhejiang", NULL},
    {"34", "Anhui", "anhui", NULL},
    {"35", "Fujian", "fujian", NULL},
    {"36", "Jiangxi", "jiangxi", NULL},
    {"37", "Shandong", "shandong", NULL},
    {"41", "Henan", "henan", NULL},
    {"42", "Hubei", "hubei", NULL},
    {"43", "Hunan", "hunan", NULL},
    {"44", "Guangdong", "guangdong", NULL},
    {"45", "Guangxi", "guangxi", NULL},
    {"46", "Hainan", "hainan", NULL},
    {"50", "Chongqing", "chongqing", NULL},
    {"51", "Sichuan", "sichuan", NULL},
    {"52", "Guizhou", "guizhou", NULL},
    {"53", "Yunnan", "yunnan", NULL},
    {"54", "Tibet", "tibet", "xizang"},
    {"61", "Shaanxi", "shaanxi", NULL},
    {"62", "Gansu", "gansu", NULL},
    {"63", "Qinghai", "qinghai", NULL},
    {"64", "Ningxia", "ningxia", NULL},
    {"65", "Xinjiang", "xinjiang", NULL},
    {"71", "Taiwan", "taiwan", NULL},
    {"81", "Hong Kong", "hongkong", "xianggang"},
    {"82", "Macao", "macao", "aomen"},
};

const char *xpl_region_name(const char *region)
{
    if (!region || !*region)
        return NULL;
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++) {
        if (strcmp(region, provinces[i].code) == 0 || strcasecmp(region, provinces[i].alias1) == 0 ||
            (provinces[i].alias2 && strcasecmp(region, provinces[i].alias2) == 0))
            return provinces[i].name;
    }
    return NULL;
}

/* A text being written snprintf-style: len counts everything, buf gets what fits. */
typedef struct Sb {
    char *buf;
    size_t cap;
    size_t len;
} Sb;

__attribute__((format(printf, 2, 3))) static void sb_printf(Sb *b, const char *fmt, ...)
{
    char *at = b->len < b->cap ? b->buf + b->len : NULL;
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

static int sb_done(Sb *b)
{
    if (b->cap > 0 && b->len >= b->cap)
        b->buf[b->cap - 1] = '\0';
    return b->len > INT32_MAX ? INT32_MAX : (int)b->len;
}

static bool parse_hhmm(const char *s, size_t n, int64_t *secs)
{
    if (n != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return false;
    *secs = h * 3600 + m * 60;
    return true;
}

static void put_clock_time(Sb *b, int64_t secs)
{
    int64_t days = secs / DAY, r = secs % DAY;
    if (days > 0 && r == 0 && days == 1) {
        sb_printf(b, "24:00");
        return;
    }
    sb_printf(b, "%02d:%02d", (int)(r / 3600), (int)(r % 3600 / 60));
    if (r % 60)
        sb_printf(b, ":%02d", (int)(r % 60));
    if (days > 0)
        sb_printf(b, "+%dd", (int)days);
}

int xpl_shift_windows(const char *spec, int64_t shift, char *buf, size_t buflen)
{
    Sb b = {buf, buflen, 0};
    if (buflen)
        buf[0] = '\0';
    if (!spec || shift < 0 || shift >= DAY)
        return -1;
    const char *p = spec;
    bool first = true;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *item = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (*p == ',')
            p++;
        if (end == item)
            continue;
        const char *dash = memchr(item, '-', (size_t)(end - item));
        int64_t a, z;
        if (!dash || !parse_hhmm(item, (size_t)(dash - item), &a) ||
            !parse_hhmm(dash + 1, (size_t)(end - dash - 1), &z))
            return -1;
        if (!first)
            sb_printf(&b, ",");
        put_clock_time(&b, a + shift);
        sb_printf(&b, "-");
        put_clock_time(&b, z + shift);
        first = false;
    }
    return sb_done(&b);
}

static void put_duration(Sb *b, int64_t secs)
{
    if (secs < 0) {
        sb_printf(b, "-");
        secs = secs == INT64_MIN ? INT64_MAX : -secs;
    }
    int64_t h = secs / 3600, m = secs % 3600 / 60, s = secs % 60;
    if (h)
        sb_printf(b, "%lldh", (long long)h);
    if (m)
        sb_printf(b, "%lldm", (long long)m);
    if (s || (!h && !m))
        sb_printf(b, "%llds", (long long)s);
}

void xpl_format_duration(int64_t secs, char *buf, size_t buflen)
{
    Sb b = {buf, buflen, 0};
    if (buflen)
        buf[0] = '\0';
    put_duration(&b, secs);
    sb_done(&b);
}

static const char *const weekdays[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

static void put_when(Sb *b, int64_t t, int64_t ref, int off)
{
    if (t == TU_NEVER) {
        sb_printf(b, "never");
        return;
    }
    int64_t lt = t + (int64_t)off * 60, days = tu_floordiv(lt, DAY), sod = lt - days * DAY;
    int64_t rdays = tu_floordiv(ref + (int64_t)off * 60, DAY);
    int wd = (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
    sb_printf(b, "%s ", weekdays[wd]);
    if (days < rdays || days - rdays >= 6) {
        int y, m, d;
        tu_civil_from_days(days, &y, &m, &d);
        sb_printf(b, "%02d-%02d ", m, d);
    }
    sb_printf(b, "%02d:%02d", (int)(sod / 3600), (int)(sod % 3600 / 60));
    if (sod % 60)
        sb_printf(b, ":%02d", (int)(sod % 60));
}

void xpl_format_when(int64_t t, int64_t ref, int utc_offset_min, char *buf, size_t buflen)
{
    Sb b = {buf, buflen, 0};
    if (buflen)
        buf[0] = '\0';
    put_when(&b, t, ref, utc_offset_min);
    sb_done(&b);
}

static void put_amount(Sb *b, ClockKind clock, int64_t secs)
{
    const char *kind = clock == CLK_BUSINESS ? "business" : "calendar";
    if (secs % 3600 == 0) {
        sb_printf(b, "%lld %s hour%s", (long long)(secs / 3600), kind, secs == 3600 ? "" : "s");
    } else {
        put_duration(b, secs);
        sb_printf(b, " of %s time", kind);
    }
}

int xpl_format_plan(const XplPlan *pl, const char *start_label, int off, char *buf, size_t buflen)
{
    Sb b = {buf, buflen, 0};
    if (buflen)
        buf[0] = '\0';
    int64_t ref = pl->start;
    sb_printf(&b, "%s ", start_label && *start_label ? start_label : "start");
    put_when(&b, pl->start, ref, off);
    size_t i = 0;
    bool never = false;
    while (i < pl->n) {
        /* one stretch between pauses */
        int64_t counted = 0, first_run = TU_NEVER;
        int days_off = 0;
        bool wait_first = pl->steps[i].kind == XPL_WAIT;
        size_t j = i;
        for (; j < pl->n && pl->steps[j].kind != XPL_PAUSE; j++) {
            const XplStep *st = &pl->steps[j];
            if (st->kind == XPL_RUN || st->kind == XPL_MORE) {
                counted += st->secs;
                if (first_run == TU_NEVER)
                    first_run = st->from;
            } else if (st->kind == XPL_WAIT) {
                days_off += st->days_off;
                if (st->to == TU_NEVER)
                    never = true;
            }
        }
        if (wait_first && first_run != TU_NEVER) {
            sb_printf(&b, " → %s clock starts ", pl->clock == CLK_BUSINESS ? "business" : "calendar");
            put_when(&b, first_run, ref, off);
        }
        if (counted > 0) {
            sb_printf(&b, " → ");
            put_amount(&b, pl->clock, counted);
            if (days_off > 0)
                sb_printf(&b, " (%d day%s off not counted)", days_off, days_off == 1 ? "" : "s");
        }
        if (never)
            sb_printf(&b, " → no working time ahead");
        if (j < pl->n) {
            const XplStep *pz = &pl->steps[j];
            sb_printf(&b, " → paused ");
            put_when(&b, pz->from, ref, off);
            if (pz->to == TU_NEVER) {
                sb_printf(&b, ", not resumed");
            } else {
                sb_printf(&b, "–");
                put_when(&b, pz->to, ref, off);
                sb_printf(&b, " (");
                put_duration(&b, pz->to - pz->from);
                sb_printf(&b, ")");
            }
            j++;
        }
        i = j;
    }
    if (pl->due == TU_NEVER) {
        sb_printf(&b, " → no deadline");
    } else {
        if (pl->n == 0 && pl->budget > 0) {
            sb_printf(&b, " → ");
            put_amount(&b, pl->clock, pl->budget);
        }
        sb_printf(&b, " → due ");
        put_when(&b, pl->due, ref, off);
    }
    return sb_done(&b);
}

static void put_run(Sb *b, const XplStep *st, int64_t ref, int off)
{
    put_when(b, st->from, ref, off);
    if (st->kind == XPL_MORE) {
        sb_printf(b, " to ");
        put_when(b, st->to, ref, off);
        sb_printf(b, " (");
        put_duration(b, st->secs);
        sb_printf(b, " over more windows)");
        return;
    }
    int64_t lf = tu_floordiv(st->from + (int64_t)off * 60, DAY), lt = tu_floordiv(st->to - 1 + (int64_t)off * 60, DAY);
    sb_printf(b, "-");
    if (lf == lt) {
        int64_t sod = st->to + (int64_t)off * 60 - lf * DAY;
        sb_printf(b, "%02d:%02d", (int)(sod / 3600), (int)(sod % 3600 / 60));
        if (sod % 60)
            sb_printf(b, ":%02d", (int)(sod % 60));
    } else {
        put_when(b, st->to, ref, off);
    }
    sb_printf(b, " (");
    put_duration(b, st->secs);
    sb_printf(b, ")");
}

int xpl_format_runs(const XplPlan *pl, int off, char *buf, size_t buflen)
{
    Sb b = {buf, buflen, 0};
    if (buflen)
        buf[0] = '\0';
    size_t runs = 0;
    for (size_t i = 0; i < pl->n; i++)
        runs += pl->steps[i].kind == XPL_RUN || pl->steps[i].kind == XPL_MORE;
    /* the first 4 and the last 3 of a long list */
    size_t head = runs > 8 ? 4 : runs, tail_from = runs > 8 ? runs - 3 : runs;
    size_t k = 0;
    bool first = true;
    for (size_t i = 0; i < pl->n; i++) {
        const XplStep *st = &pl->steps[i];
        if (st->kind != XPL_RUN && st->kind != XPL_MORE)
            continue;
        if (k < head || k >= tail_from) {
            if (!first)
                sb_printf(&b, ", ");
            put_run(&b, st, pl->start, off);
            first = false;
        } else if (k == head) {
            sb_printf(&b, ", … %zu more …", tail_from - head);
        }
        k++;
    }
    return sb_done(&b);
}
