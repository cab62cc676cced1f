/* testutil: helpers shared by the unit tests. */
#ifndef COMPLAINTD_TESTUTIL_H
#define COMPLAINTD_TESTUTIL_H

#include <check.h>

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* For loops over many items: Check's ck_assert records every passing
 * assertion through a pipe to the parent, which costs a system call each;
 * this only calls into Check on failure. */
#define REQUIRE(cond)                                                                                                  \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg("%s:%d: failed: %s", __FILE__, __LINE__, #cond);                                              \
    } while (0)

#endif
